// The LibTorch headers most engine files need, precompiled once per build.
// Kept to ATen and autograd: <torch/torch.h> as a PCH is 630 MB and costs
// 4.6 s to load per file on the reference machine, this set 300 MB and 1.1 s.
#pragma once

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/generated/variable_factories.h>
