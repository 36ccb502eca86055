#!/usr/bin/env python3
"""Renders chat templates as Hugging Face transformers' apply_chat_template
(tokenize=False) does: the reference for Tunebench's template interpreter.

    render_chat_template.py --tokenizer DIR --input CHATS.jsonl [--name NAME] [--renderer R]
    render_chat_template.py --template FILE --input CHATS.jsonl [--special-tokens JSON] [--renderer R]
    render_chat_template.py --template-list TEMPLATES.jsonl --input CHATS.jsonl [--special-tokens JSON]
    render_chat_template.py --batch JOBS

Each input line is a JSON object {"messages": [...], "add_generation_prompt": bool,
"tools": [...], "documents": [...], any other key: a template variable}. Each output
line is the rendered text as a JSON string. With --keep-going, a line whose render
fails prints {"error": message, "type": exception class} instead of stopping.
--template-list takes one template per line (a JSON string) and renders each over
every conversation, template by template; it implies --keep-going (a template that
does not compile gives one error line per conversation). --output writes to a file;
--batch runs one JSON array of arguments per line of JOBS (each with --output) in
this one process, since importing transformers costs seconds.

--renderer picks the reference:
  transformers  AutoTokenizer.from_pretrained(DIR).apply_chat_template(messages,
                tools=..., documents=..., add_generation_prompt=..., tokenize=False,
                **other keys); with --template, a tokenizer whose special tokens are
                --special-tokens renders the file's text (chat_template=...). What
                users run, with its own checks (it refuses an empty conversation).
  jinja2        (default) the same environment built here on the installed Jinja2:
                transformers' settings (src/transformers/utils/chat_template_utils.py):
                ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
                with the loopcontrols extension and a {% generation %} tag, a tojson
                filter that does not escape HTML (json.dumps with ensure_ascii=False,
                indent, separators, sort_keys), raise_exception and strftime_now
                globals; the special tokens of the tokenizer (tokenizer_config.json,
                then special_tokens_map.json) are variables, as apply_chat_template
                passes special_tokens_map. Quick, and it renders what transformers
                refuses up front, so templates are compared on every conversation.
Run it with the reference environment's Python (tests/reference/requirements.txt).
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

# transformers 5's special_tokens_map: the named tokens only (no additional ones).
SPECIAL_TOKEN_KEYS = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"]


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
    """transformers' special_tokens_map: the named special tokens that are set, as strings."""
    for key in SPECIAL_TOKEN_KEYS:
        if key in config:
            out[key] = token_text(config[key])


def load_tokenizer_template(folder, name):
    """(template, tool_use template or None, special tokens). As transformers 5 does,
    chat_template.jinja takes priority over the config's chat_template; without a
    name asked for, a conversation with tools gets the template named tool_use."""
    config_path = os.path.join(folder, "tokenizer_config.json")
    config = {}
    if os.path.exists(config_path):
        with open(config_path, encoding="utf-8") as f:
            config = json.load(f)
    template = config.get("chat_template")
    tool_use = None
    jinja_path = os.path.join(folder, "chat_template.jinja")
    if os.path.exists(jinja_path):
        with open(jinja_path, encoding="utf-8", newline="") as f:
            template = f.read()
    elif template is None:
        sys.exit(f"{folder}: no chat template")
    elif isinstance(template, list):
        by_name = {t["name"]: t["template"] for t in template}
        if (name or "default") not in by_name:
            sys.exit(f"{config_path}: no chat template named {name or 'default'!r}")
        tool_use = by_name.get("tool_use") if name is None else None
        template = by_name[name or "default"]
    tokens = {}
    collect_special_tokens(config, tokens)
    map_path = os.path.join(folder, "special_tokens_map.json")
    if os.path.exists(map_path):
        with open(map_path, encoding="utf-8") as f:
            collect_special_tokens(json.load(f), tokens)
    return template, tool_use, tokens


def make_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--tokenizer", help="model or tokenizer folder with tokenizer_config.json")
    source.add_argument("--template", help="a template file")
    source.add_argument("--template-list", help="JSONL file of templates, each rendered over every conversation")
    source.add_argument("--batch", metavar="JOBS", help="run the argument lists of JOBS, one per line")
    parser.add_argument("--renderer", choices=["jinja2", "transformers"], default="jinja2")
    parser.add_argument("--name", help="which of several named templates (default: as transformers picks: "
                        "tool_use for a conversation with tools where there is one, else default)")
    parser.add_argument("--special-tokens", default="{}", help="JSON object of special tokens (with --template)")
    parser.add_argument("--input", help="JSONL file of requests")
    parser.add_argument("--output", help="write there instead of to stdout")
    parser.add_argument("--keep-going", action="store_true", help="print errors as JSON objects and continue")
    parser.add_argument("--time-repeats", type=int, default=0, metavar="N",
                        help="then render everything N more times and print the seconds taken to stderr")
    return parser


def split_request(request):
    """(messages, add_generation_prompt, tools, documents, other template variables)."""
    request = dict(request)
    return (request.pop("messages"), request.pop("add_generation_prompt", False), request.pop("tools", None),
            request.pop("documents", None), request)


class Jinja2Renderer:
    def __init__(self, special_tokens_map, tool_use=None):
        self.env = make_environment()
        self.tokens = special_tokens_map
        self.tool_use = None if tool_use is None else self.env.from_string(tool_use)

    def compile(self, text):
        return self.env.from_string(text)

    def render(self, compiled, request):
        messages, add_generation_prompt, tools, documents, rest = split_request(request)
        if tools is not None and self.tool_use is not None:
            compiled = self.tool_use
        if isinstance(messages, list) and not messages:
            # apply_chat_template's own check, before any template runs.
            raise ValueError("Cannot apply chat template to an empty conversation. Provide at least one message.")
        return compiled.render(messages=messages, tools=tools, documents=documents,
                               add_generation_prompt=add_generation_prompt, **{**self.tokens, **rest})


class TransformersRenderer:
    def __init__(self, folder, special_tokens):
        import transformers
        from tokenizers import Tokenizer, models
        from transformers import AutoTokenizer, PreTrainedTokenizerFast

        transformers.logging.set_verbosity_error()
        if folder is not None:
            self.tokenizer = AutoTokenizer.from_pretrained(folder)
        else:
            # A tokenizer that is only there for its special tokens.
            backend = Tokenizer(models.BPE(vocab={"a": 0}, merges=[]))
            self.tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, **special_tokens)

    def compile(self, text):
        return text  # apply_chat_template compiles (and caches) it

    def render(self, compiled, request):
        messages, add_generation_prompt, tools, documents, rest = split_request(request)
        return self.tokenizer.apply_chat_template(messages, tools=tools, documents=documents,
                                                  chat_template=compiled, add_generation_prompt=add_generation_prompt,
                                                  tokenize=False, **rest)


def run(parser, args):
    if args.batch is not None:
        with open(args.batch, encoding="utf-8") as f:
            jobs = [json.loads(line) for line in f if line.strip()]
        for number, job in enumerate(jobs, 1):
            if not isinstance(job, list) or "--batch" in job or "--output" not in job:
                sys.exit(f"{args.batch}:{number}: expected a JSON array of arguments with --output and without --batch")
            run(parser, parser.parse_args([str(a) for a in job]))
        return
    if args.input is None:
        parser.error("--input is required")

    tokens = {}
    tool_use = None
    if args.tokenizer:
        # transformers picks among named templates itself (tool_use where tools are given).
        template_text, tool_use, tokens = load_tokenizer_template(args.tokenizer, args.name)
        templates = [args.name if args.renderer == "transformers" else template_text]
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
    if args.renderer == "transformers":
        renderer = TransformersRenderer(args.tokenizer, special_tokens_map)
    else:
        renderer = Jinja2Renderer(special_tokens_map, tool_use)
    lines = []
    for template_text in templates:
        try:
            compiled = renderer.compile(template_text)
        except Exception as e:  # noqa: BLE001 - a template that does not compile fails every render
            if not keep_going:
                raise
            compiled, compile_error = None, e
        for request in requests:
            try:
                if compiled is None and template_text is not None:
                    raise compile_error
                text = renderer.render(compiled, request)
            except Exception as e:  # noqa: BLE001 - every failure is reported the same way
                if not keep_going:
                    raise
                lines.append(json.dumps({"error": str(e), "type": type(e).__name__}, ensure_ascii=False))
                continue
            lines.append(json.dumps(text, ensure_ascii=False))
    out = "".join(line + "\n" for line in lines)
    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="\n") as f:
            f.write(out)
    else:
        sys.stdout.write(out)
    if args.time_repeats > 0:
        time_renders(make_environment(), [t for t in templates if t is not None], requests, special_tokens_map,
                     args.time_repeats)


def main():
    parser = make_parser()
    run(parser, parser.parse_args())


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
        if not request.get("messages"):
            continue  # apply_chat_template refuses an empty conversation
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
