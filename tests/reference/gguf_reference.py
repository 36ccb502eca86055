#!/usr/bin/env python3
"""Read a GGUF file with llama.cpp's own Python reader (the `gguf` package, gguf.GGUFReader).

    python3 tests/reference/gguf_reference.py FILE [--values OUT.safetensors]

Prints one JSON object:
  version            the GGUF version
  tensorDataOffset   where the data section starts in the file
  metadata           key -> value (arrays as lists, in full)
  metadataOrder      the keys in file order
  metadataTypes      key -> GGUF value type number; for arrays also "key[]" -> the item type
  tensors            [{name, shape, dtype, offset}] in file order: shape in GGUF order (fastest dimension
                     first), dtype the ggml type number, offset from the start of the data section

--values writes every tensor dequantised to float32 by gguf.quants.dequantize, under its GGUF name, with
the row-major shape (the GGUF shape reversed), as safetensors, so that a test can compare the values too.

Exit status: 0 read, 1 the file does not parse (the reason on stderr), 2 usage.
"""

import argparse
import json
import sys


def field_value(field):
    """The field's value as plain Python: numbers, bools, strings or a list of one of them."""
    return field.contents()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", help="the GGUF file")
    parser.add_argument("--values", metavar="OUT.safetensors", help="write the tensors as float32 here")
    args = parser.parse_args()

    try:
        import gguf
        import numpy as np
        from gguf.quants import dequantize
    except ImportError as e:
        print(f"gguf_reference.py: {e} (the reference environment has the gguf package)", file=sys.stderr)
        return 2

    try:
        reader = gguf.GGUFReader(args.file)
        metadata = {}
        order = []
        types = {}
        version = None
        for key, field in reader.fields.items():
            # The reader lists the header as pseudo-fields; they are not metadata entries.
            if key.startswith("GGUF."):
                if key == "GGUF.version":
                    version = field_value(field)
                continue
            order.append(key)
            metadata[key] = field_value(field)
            types[key] = int(field.types[0])
            if field.types[0] == gguf.GGUFValueType.ARRAY:
                types[key + "[]"] = int(field.types[-1])
        tensors = []
        values = {}
        for t in reader.tensors:
            tensors.append(
                {
                    "name": t.name,
                    "shape": [int(d) for d in t.shape],
                    "dtype": int(t.tensor_type),
                    "offset": int(t.data_offset - reader.data_offset),
                }
            )
            if args.values:
                shape = tuple(reversed([int(d) for d in t.shape]))
                x = dequantize(t.data, t.tensor_type).astype(np.float32, copy=False).reshape(shape)
                values[t.name] = np.ascontiguousarray(x)
        text = json.dumps(
            {
                "version": version,
                "tensorDataOffset": int(reader.data_offset),
                "metadata": metadata,
                "metadataOrder": order,
                "metadataTypes": types,
                "tensors": tensors,
            },
            allow_nan=False,
        )
    except Exception as e:  # the reader raises ValueError, KeyError, IndexError ... on a bad file
        print(f"gguf_reference.py: {args.file}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1

    if args.values:
        from safetensors.numpy import save_file

        save_file(values, args.values, metadata={"source": args.file})
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
