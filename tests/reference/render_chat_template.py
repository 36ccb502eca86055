#!/usr/bin/env python3
"""Renders chat templates exactly as Hugging Face transformers' apply_chat_template
(tokenize=False) does, with the installed Jinja2: the reference for Tunebench's
template interpreter.

    render_chat_template.py --tokenizer DIR --input CHATS.jsonl [--name NAME]
    render_chat_template.py --template FILE --input CHATS.jsonl [--special-tokens JSON]
    render_chat_template.py --template-list TEMPLATES.jsonl --input CHATS.jsonl [--special-tokens JSON]

Each input line is a JSON object {"messages": [...], "add_generation_prompt": bool,
"tools": [...], "documents": [...], any other key: a template variable}. Each output
line is the rendered text as a JSON string. With --keep-going, a line whose render
fails prints {"error": message, "type": exception class} instead of stopping.
--template-list takes one template per line (a JSON string) and renders each over
every conversation, template by template; it implies --keep-going (a template that
does not compile gives one error line per conversation).

The environment is transformers' (src/transformers/utils/chat_template_utils.py):
ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True) with the
loopcontrols extension and a {% generation %} tag, a tojson filter that does not
escape HTML (json.dumps with ensure_ascii=False, indent, separators, sort_keys),
raise_exception and strftime_now globals; the special tokens of the tokenizer
(tokenizer_config.json, then special_tokens_map.json) are variables, as
apply_chat_template passes special_tokens_map. Run it with the Python whose Jinja2
is the reference (Debian's python3-jinja2: /usr/bin/python3).
"""
import argparse
import json
import os
import sys
import time
from datetime import datetime

import jinja2
import jinja2.ext
import jinja2.nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

SPECIAL_TOKEN_KEYS = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token",
                      "mask_token", "additional_special_tokens"]


class GenerationTag(jinja2.ext.Extension):
    """transformers' {% generation %}...{% endgeneration %}: renders its body unchanged
    (the tag only matters for assistant-token masks, which this script does not make)."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def make_environment():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return datetime.now().strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[GenerationTag, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def token_text(value):
    if value is None:
        return None
    if isinstance(value, dict):
        return value.get("content")
    return value


def collect_special_tokens(config, out):
    """transformers' special_tokens_map: the special tokens that are set, as strings."""
    for key in SPECIAL_TOKEN_KEYS:
        if key not in config:
            continue
        value = config[key]
        if key == "additional_special_tokens":
            out[key] = None if value is None else [token_text(v) for v in value]
        else:
            out[key] = token_text(value)


def load_tokenizer_template(folder, name):
    config_path = os.path.join(folder, "tokenizer_config.json")
    config = {}
    if os.path.exists(config_path):
        with open(config_path, encoding="utf-8") as f:
            config = json.load(f)
    template = config.get("chat_template")
    if template is None:
        jinja_path = os.path.join(folder, "chat_template.jinja")
        if not os.path.exists(jinja_path):
            sys.exit(f"{folder}: no chat template")
        with open(jinja_path, encoding="utf-8", newline="") as f:
            template = f.read()
    elif isinstance(template, list):
        by_name = {t["name"]: t["template"] for t in template}
        if name not in by_name:
            sys.exit(f"{config_path}: no chat template named {name!r}")
        template = by_name[name]
    tokens = {}
    collect_special_tokens(config, tokens)
    map_path = os.path.join(folder, "special_tokens_map.json")
    if os.path.exists(map_path):
        with open(map_path, encoding="utf-8") as f:
            collect_special_tokens(json.load(f), tokens)
    return template, tokens


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--tokenizer", help="model or tokenizer folder with tokenizer_config.json")
    source.add_argument("--template", help="a template file")
    source.add_argument("--template-list", help="JSONL file of templates, each rendered over every conversation")
    parser.add_argument("--name", default="default", help="which of several named templates")
    parser.add_argument("--special-tokens", default="{}", help="JSON object of special tokens (with --template)")
    parser.add_argument("--input", required=True, help="JSONL file of requests")
    parser.add_argument("--keep-going", action="store_true", help="print errors as JSON objects and continue")
    parser.add_argument("--time-repeats", type=int, default=0, metavar="N",
                        help="then render everything N more times and print the seconds taken to stderr")
    args = parser.parse_args()

    tokens = {}
    if args.tokenizer:
        template_text, tokens = load_tokenizer_template(args.tokenizer, args.name)
        templates = [template_text]
    elif args.template:
        with open(args.template, encoding="utf-8", newline="") as f:
            templates = [f.read()]
    else:
        with open(args.template_list, encoding="utf-8") as f:
            templates = [json.loads(line) for line in f if line.strip()]
    if not args.tokenizer:
        collect_special_tokens(json.loads(args.special_tokens), tokens)
    # apply_chat_template passes only the tokens that are set.
    special_tokens_map = {k: v for k, v in tokens.items() if v}
    keep_going = args.keep_going or args.template_list is not None

    with open(args.input, encoding="utf-8") as f:
        requests = [json.loads(line) for line in f if line.strip()]
    env = make_environment()
    out = sys.stdout
    for template_text in templates:
        try:
            compiled = env.from_string(template_text)
        except Exception as e:  # noqa: BLE001 - a template that does not compile fails every render
            if not keep_going:
                raise
            compiled, compile_error = None, e
        for request in requests:
            request = dict(request)
            messages = request.pop("messages")
            add_generation_prompt = request.pop("add_generation_prompt", False)
            tools = request.pop("tools", None)
            documents = request.pop("documents", None)
            kwargs = {**special_tokens_map, **request}
            try:
                if compiled is None:
                    raise compile_error
                text = compiled.render(messages=messages, tools=tools, documents=documents,
                                       add_generation_prompt=add_generation_prompt, **kwargs)
            except Exception as e:  # noqa: BLE001 - every failure is reported the same way
                if not keep_going:
                    raise
                out.write(json.dumps({"error": str(e), "type": type(e).__name__}, ensure_ascii=False) + "\n")
                continue
            out.write(json.dumps(text, ensure_ascii=False) + "\n")
    if args.time_repeats > 0:
        time_renders(env, templates, requests, special_tokens_map, args.time_repeats)


def time_renders(env, templates, requests, special_tokens_map, repeats):
    """Benchmark figure: seconds for `repeats` passes over every request (compiled once, failures skipped)."""
    compiled = []
    for text in templates:
        try:
            compiled.append(env.from_string(text))
        except Exception:  # noqa: BLE001 - a template that does not compile is not timed
            pass
    calls = []
    for request in requests:
        request = dict(request)
        kwargs = {"messages": request.pop("messages"), "add_generation_prompt": request.pop("add_generation_prompt", False),
                  "tools": request.pop("tools", None), "documents": request.pop("documents", None),
                  **special_tokens_map, **request}
        calls.append(kwargs)
    renders = 0
    output_bytes = 0
    start = time.perf_counter()
    for _ in range(repeats):
        for template in compiled:
            for kwargs in calls:
                try:
                    output_bytes += len(template.render(**kwargs).encode("utf-8"))
                    renders += 1
                except Exception:  # noqa: BLE001 - failing renders are skipped alike on both sides
                    pass
    seconds = time.perf_counter() - start
    sys.stderr.write(json.dumps({"seconds": seconds, "renders": renders, "output_bytes": output_bytes}) + "\n")


if __name__ == "__main__":
    main()
