# core/stats: Student's t, seed-group summaries and two-group tests, against values
# computed by hand.
tunebench_add_test(test_stats SOURCES stats/test_stats.cpp LABELS unit LIBRARIES tunebench_core)
# The same functions against scipy (tests/reference/scipy_stats.py) in one Python process.
tunebench_add_test(test_stats_reference SOURCES stats/test_stats_reference.cpp LABELS unit reference
                   LIBRARIES tunebench_core)
