#!/usr/bin/env python3
"""Writes tests/template/conversations.jsonl: the conversations every chat template
(real and hand-made) is rendered over, by Tunebench and by render_chat_template.py.

    python3 tests/reference/make_chat_conversations.py > tests/template/conversations.jsonl

Hard cases on purpose: no system prompt or several, empty and whitespace-only
messages, many turns, Unicode of many scripts, special-token text inside messages,
tool calls (Qwen3's format), reasoning, multimodal content lists, None content and
an empty conversation (which some templates reject: both sides must fail alike).
"""
import json
import sys

UNICODE_SAMPLES = [
    "Привет, как дела? Ёлка и ъ.",
    "日本語のテキスト、漢字とかな。中文：你好，世界！한국어 문장입니다.",
    "emoji 👩‍👩‍👧‍👦 family, flags 🇫🇷🇯🇵, skin 👍🏽, keycap 1️⃣",
    "עברית וערבית: مرحبا بالعالم — שלום עולם",
    "combining: e\u0301 a\u0300 n\u0303, Zalgo z\u0335\u0353a\u0336\u0356",
    "Greek ΟΔΥΣΣΕΥΣ and ὈΔΥΣΣΕΎΣ; German Straße; Turkish İstanbul ıi",
    "हिन्दी देवनागरी, தமிழ், ไทย ภาษา, ქართული, አማርኛ",
    "math ∑∫√∞ ≤ ≥ ≠, arrows → ⇒, box ┌─┐, NBSP\u00a0here, ideographic\u3000space",
    "controls \u0001\u001f and DEL \u007f, LS\u2028PS\u2029 end",
]

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city. Units: \"metric\" or <imperial>.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City name, e.g. Zürich"},
                    "units": {"type": "string", "enum": ["metric", "imperial"]},
                    "days": {"type": "integer", "minimum": 1, "maximum": 14},
                },
                "required": ["city"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "search",
            "description": "Web search",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"},
                                                             "top_k": {"type": "number", "default": 3.5}}},
        },
    },
]


def msg(role, content, **extra):
    m = {"role": role, "content": content}
    m.update(extra)
    return m


def tool_call(name, arguments, wrap=True):
    call = {"name": name, "arguments": arguments}
    return {"type": "function", "function": call, "id": "call_" + name} if wrap else call


def cases():
    out = []

    def add(messages, agp, **extra):
        request = {"messages": messages, "add_generation_prompt": agp}
        request.update(extra)
        out.append(request)

    for agp in (True, False):
        add([msg("user", "Hello!")], agp)
        add([msg("system", "You are a helpful assistant."), msg("user", "What is 2+2?")], agp)
        add([msg("system", "Be terse."), msg("user", "Hi"), msg("assistant", "Hello."), msg("user", "Bye")], agp)
        add([msg("user", "a"), msg("assistant", "b"), msg("user", "c"), msg("assistant", "d")], agp)

    # Many turns.
    long_chat = [msg("system", "You answer in one line.")]
    for i in range(12):
        long_chat.append(msg("user", f"Question {i}: what is {i} squared?"))
        long_chat.append(msg("assistant", f"{i * i}"))
    long_chat.append(msg("user", "Thanks!"))
    add(long_chat, True)
    add(long_chat[1:], False)

    # Empty and whitespace-only messages.
    add([msg("user", "")], True)
    add([msg("system", ""), msg("user", "")], True)
    add([msg("system", ""), msg("user", "hi"), msg("assistant", ""), msg("user", "")], False)
    add([msg("user", "   padded   "), msg("assistant", "\n\nleading newlines"), msg("user", "trailing\n\n")], True)
    add([msg("user", "\t tabs \t and spaces \n")], False)
    add([msg("user", "line one\nline two\r\nwindows line\rold mac")], True)

    # Unicode.
    for i, text in enumerate(UNICODE_SAMPLES):
        add([msg("system", UNICODE_SAMPLES[(i + 3) % len(UNICODE_SAMPLES)]), msg("user", text)], i % 2 == 0)
    add([msg("user", UNICODE_SAMPLES[2]), msg("assistant", UNICODE_SAMPLES[4]), msg("user", UNICODE_SAMPLES[0])], True)

    # Special-token text inside content stays text.
    add([msg("user", "<|begin_of_text|><|start_header_id|>user<|end_header_id|> hi <|eot_id|>")], True)
    add([msg("user", "<|im_start|>system\nignore<|im_end|>"), msg("assistant", "<s>[INST] x [/INST]</s>")], False)
    add([msg("user", "{{ not a template }} {% if %} {# comment #}")], True)

    # Roles out of the usual order, extra fields.
    add([msg("assistant", "I speak first."), msg("user", "ok")], True)
    add([msg("user", "q"), msg("system", "late system prompt"), msg("user", "q2")], True)
    add([msg("system", "one"), msg("system", "two"), msg("user", "hi")], False)
    add([msg("user", "named", name="alice"), msg("assistant", "reply", name="bot")], True)

    # Reasoning (Qwen3 reads reasoning_content or splits <think> blocks).
    add([msg("user", "Think first."), msg("assistant", "The answer is 4.", reasoning_content="2+2 is 4.")], False)
    add([msg("user", "Think first."), msg("assistant", "<think>\nLet me see.\n</think>\n\nIt is 4."),
         msg("user", "Again?")], True)
    add([msg("user", "q1"), msg("assistant", "<think>old thoughts</think>a1"), msg("user", "q2"),
         msg("assistant", "<think>\nnew thoughts\n</think>\n\na2")], False)
    add([msg("user", "q"), msg("assistant", "no think tags", reasoning_content=None)], False)
    add([msg("user", "Hi")], True, enable_thinking=False)
    add([msg("user", "Hi")], True, enable_thinking=True)
    add([msg("system", "sys"), msg("user", "Hi")], False, enable_thinking=False)

    # Tools and tool calls.
    add([msg("user", "Weather in Paris?")], True, tools=TOOLS)
    add([msg("system", "You can call tools."), msg("user", "Weather in Paris?")], True, tools=TOOLS)
    weather_call = tool_call("get_weather", {"city": "Paris", "units": "metric", "days": 3})
    add([msg("user", "Weather in Paris?"),
         msg("assistant", "", tool_calls=[weather_call]),
         msg("tool", "{\"temp\": 21.5, \"sky\": \"clear\"}"),
         msg("user", "Thanks")], True, tools=TOOLS)
    add([msg("user", "Weather in Paris and search news"),
         msg("assistant", "Calling two tools.", tool_calls=[
             weather_call,
             tool_call("search", "{\"query\": \"news\", \"top_k\": 2}"),
         ]),
         msg("tool", "sunny"),
         msg("tool", "headline: nothing happened"),
         msg("assistant", "Sunny, and no news.")], True, tools=TOOLS)
    add([msg("user", "Use a tool"),
         msg("assistant", "", tool_calls=[tool_call("search", {"query": "ünïcödé ✓", "filters": [1, 2.5, None, True],
                                                               "nested": {"a": {"b": [1e-7, 1e21, -0.0]}}},
                                                    wrap=False)]),
         msg("tool", "result")], True, tools=TOOLS)
    add([msg("user", "Multi-step"),
         msg("assistant", "<think>plan</think>call", tool_calls=[weather_call]),
         msg("user", "<tool_response>\n{\"ok\": true}\n</tool_response>"),
         msg("assistant", "done")], False, tools=TOOLS)
    add([msg("user", "<tool_response>only</tool_response>")], True)

    # Content that is not a plain string.
    add([msg("user", [{"type": "text", "text": "multimodal text part"}, {"type": "image", "url": "x.png"}])], True)
    add([msg("user", 42), msg("assistant", 3.5), msg("user", True)], False)
    add([msg("assistant", None, tool_calls=[weather_call]), msg("tool", "x")], False)

    # More whitespace that trimming templates treat differently.
    add([msg("system", "System with trailing newlines\n\n"), msg("user", "  both sides  "),
         msg("assistant", "answer with trailing spaces   ")], True)
    add([msg("user", "\n")], True)
    add([msg("user", "first"), msg("user", "second in a row"), msg("assistant", "one reply")], False)

    # More reasoning and tool shapes.
    add([msg("user", "q"), msg("assistant", "final only</think>answer")], False)
    add([msg("user", "q"), msg("assistant", "text", reasoning_content="")], True)
    add([msg("user", "Weather?")], True, tools=TOOLS, enable_thinking=False)
    add([msg("user", "Look it up"), msg("tool", "a tool result without a call")], True, tools=TOOLS)
    add([msg("user", "Plan a trip"),
         msg("assistant", "<think>need weather</think>", tool_calls=[
             tool_call("get_weather", "{\"city\": \"Kraków\", \"days\": 2}")]),
         msg("tool", "{\"temp\": -3}"),
         msg("assistant", "<think>cold</think>Pack a coat.", tool_calls=[tool_call("search", {"query": "coats"})]),
         msg("tool", "[]"),
         msg("user", "Thanks, and hotels?")], True, tools=TOOLS)
    add([msg("user", "Sources?")], True, documents=[{"title": "Doc A", "text": "alpha"},
                                                     {"title": "Doc B", "text": "beta ✓"}])

    # A long message.
    add([msg("user", ("The quick brown fox jumps over the lazy dog. " * 200).strip())], True)

    # No messages at all (some templates index messages[0] and must fail).
    add([], True)
    add([], False)
    return out


def main():
    for request in cases():
        sys.stdout.write(json.dumps(request, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
