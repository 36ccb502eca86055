// Compiled only to produce the precompiled LibTorch header (see CMakeLists.txt).
#include "torch_pch.h"
