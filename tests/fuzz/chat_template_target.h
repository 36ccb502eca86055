// The fuzz entry point for chat templates (the Jinja subset interpreter, core/template, through
// ChatTemplate), shared by the libFuzzer binary (fuzz_chat_template) and the regression test of the
// normal build (tests/template/test_template_fuzz_regressions.cpp).
#pragma once

#include <cstddef>
#include <cstdint>

namespace tunebench::fuzz {

enum class TemplateVerdict { Rendered, Rejected };

// Parses data as a template (with bos/eos special tokens) and renders it, under tight limits, with a
// few fixed conversations (plain, with a system prompt, multi-turn, with tools and documents, with and
// without the generation prompt) through render() and renderRequest(). Parsing and rendering may throw
// InputError only (jinja::TemplateError is one), with a message that names the template; rendering the
// same conversation twice gives the same text. Anything else aborts with a message.
TemplateVerdict checkChatTemplate(const std::uint8_t* data, std::size_t size);

} // namespace tunebench::fuzz
