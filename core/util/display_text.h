#pragma once

#include <string>
#include <string_view>

namespace tunebench {

// User text (run names, dataset fields, generated samples, error messages that
// quote them) made safe to show: a terminal would obey an escape sequence
// (colours, a new window title, a cleared screen), a lone carriage return
// overwrites what was printed before it, and a bidirectional override makes
// the rest of the line read backwards. Each such character is written as a
// visible escape instead: C0 controls, DEL and C1 controls as \xNN, the
// bidirectional embeddings, overrides and isolates (U+202A-U+202E,
// U+2066-U+2069) as \uNNNN, bytes that are not UTF-8 as \xNN. Tab is kept,
// newline is kept where keepNewlines (multi-line text), else written as \n.
std::string escapeControls(std::string_view utf8, bool keepNewlines = false);

// Whether escapeControls would change the text.
bool hasControls(std::string_view utf8, bool keepNewlines = false);

} // namespace tunebench
