# The Debian package built with CPack, installed with apt, used from the
# installed location and purged again (needs root; skipped, exit 77, without).
add_test(NAME test_deb_package
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/package/test_deb_package.sh ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR}
          ${PROJECT_VERSION} ${CMAKE_INSTALL_LIBDIR})
set_tests_properties(test_deb_package PROPERTIES LABELS slow TIMEOUT 900 SKIP_RETURN_CODE 77
  # Installing into /usr and dpkg's lock: one at a time, beside nothing else that installs.
  RESOURCE_LOCK dpkg)

# tunebench_check_torch(): a LibTorch with the old std::string ABI (PyTorch wheels
# before 2.7) stops the configuration with the remedy; CPU and CUDA ones pass.
add_test(NAME test_torch_check
  COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${PROJECT_SOURCE_DIR} -DWORK=${CMAKE_CURRENT_BINARY_DIR}/torch_check
          -P ${CMAKE_CURRENT_SOURCE_DIR}/package/torch_check.cmake)
set_tests_properties(test_torch_check PROPERTIES LABELS unit)
