// An independent reading of a GGUF file, with the npm package @huggingface/gguf.
//
//   node gguf_reference.mjs FILE
//
// Prints one JSON object: version, tensorDataOffset, metadata (key -> value; arrays
// longer than 64 items are summarised as {"length": N, "first": [...]}), metadataTypes
// (key -> GGUF value type number) and tensors ([{name, shape, dtype, offset}], shape in
// GGUF order, dtype the ggml type number). Exits 1 with a message when the file does not parse.
import { gguf } from "@huggingface/gguf";
import { resolve } from "node:path";

const file = process.argv[2];
if (!file) {
  process.stderr.write("usage: node gguf_reference.mjs FILE\n");
  process.exit(2);
}

function plain(value) {
  if (typeof value === "bigint") return Number(value);
  if (Array.isArray(value)) {
    const items = value.map(plain);
    return items.length > 64 ? { length: items.length, first: items.slice(0, 8) } : items;
  }
  return value;
}

try {
  const parsed = await gguf(resolve(file), { allowLocalFile: true, typedMetadata: true });
  const metadata = {};
  const metadataTypes = {};
  for (const [key, entry] of Object.entries(parsed.typedMetadata)) {
    metadata[key] = plain(entry.value);
    metadataTypes[key] = entry.type;
    if (entry.subType !== undefined) metadataTypes[key + "[]"] = entry.subType;
  }
  const tensors = parsed.tensorInfos.map((t) => ({
    name: t.name,
    shape: t.shape.map((d) => Number(d)),
    dtype: t.dtype,
    offset: Number(t.offset),
  }));
  process.stdout.write(
    JSON.stringify({
      version: plain(parsed.metadata.version),
      tensorDataOffset: plain(parsed.tensorDataOffset),
      metadata,
      metadataTypes,
      tensors,
    }) + "\n",
  );
} catch (e) {
  process.stderr.write(`gguf_reference.mjs: ${file}: ${e.message}\n`);
  process.exit(1);
}
