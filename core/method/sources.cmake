list(APPEND plain_sources
  method/parameter_schema.cpp
  method/plugin_registry.cpp)
list(APPEND torch_sources
  method/adapter_fold.cpp
  method/objective.cpp
  method/parameter_group.cpp
  method/named_state.cpp
  method/peft_form.cpp
  method/preference.cpp)
