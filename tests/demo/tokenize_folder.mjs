// Token ids of a tokenizer folder (tokenizer.json + tokenizer_config.json) as
// transformers.js (@lenml/tokenizers, installed in tests/reference) encodes them:
// an independent check that a tokenizer Tunebench trains loads in the
// Hugging Face ecosystem and encodes alike.
//
//   node tokenize_folder.mjs REFERENCE_DIR TOKENIZER_DIR INPUT [--add-special-tokens]
//
// INPUT holds one JSON string per line; the output is one JSON array of ids per line.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const [referenceDir, folder, input, flag] = process.argv.slice(2);
if (!referenceDir || !folder || !input) {
  process.stderr.write("usage: tokenize_folder.mjs REFERENCE_DIR TOKENIZER_DIR INPUT [--add-special-tokens]\n");
  process.exit(2);
}
const require = createRequire(join(referenceDir, "package.json"));
const { TokenizerLoader } = await import(pathToFileURL(require.resolve("@lenml/tokenizers")).href);
const tokenizer = TokenizerLoader.fromPreTrained({
  tokenizerJSON: JSON.parse(readFileSync(join(folder, "tokenizer.json"), "utf8")),
  tokenizerConfig: JSON.parse(readFileSync(join(folder, "tokenizer_config.json"), "utf8")),
});
const lines = readFileSync(input, "utf8").split("\n").filter((l) => l.length > 0);
const out = lines.map((l) =>
  JSON.stringify(Array.from(tokenizer.encode(JSON.parse(l), { add_special_tokens: flag === "--add-special-tokens" }))));
process.stdout.write(out.join("\n") + (out.length ? "\n" : ""));
