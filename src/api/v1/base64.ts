/**
 * Base64 as the Kubernetes API server decodes a `[]byte` field (Go's encoding/base64
 * StdEncoding): the standard alphabet with `=` padding, CR and LF ignored anywhere, anything
 * else refused with the offset of the first bad byte ("illegal base64 data at input byte N").
 * Node's own decoder skips bad characters silently, which would store something other than
 * what was sent. The error names a position, never the data.
 */

const alphabet = /[A-Za-z0-9+/]/;

export class IllegalBase64 extends Error {
  constructor(readonly offset: number) {
    super(`illegal base64 data at input byte ${offset}`);
  }
}

/** The bytes `text` encodes, or IllegalBase64. */
export function decodeStdBase64(text: string): Buffer | IllegalBase64 {
  const offset = firstIllegalByte(text);
  if (offset !== undefined) return new IllegalBase64(offset);
  return Buffer.from(text.replace(/[\r\n]/g, ""), "base64");
}

/**
 * Walks the text in quanta of four symbols as Go's decodeQuantum does, reporting the offsets
 * it reports: a bad symbol at its own index, a quantum cut short at the end less the symbols
 * read, bad padding where it goes wrong, anything after the padding where it starts.
 */
function firstIllegalByte(text: string): number | undefined {
  let i = 0;
  while (i < text.length) {
    let symbols = 0;
    while (symbols < 4) {
      if (i >= text.length) return symbols === 0 ? undefined : text.length - symbols;
      const c = text[i] as string;
      i++;
      if (c === "\r" || c === "\n") continue;
      if (c === "=") return padding(text, i, symbols);
      if (!alphabet.test(c)) return i - 1;
      symbols++;
    }
  }
  return undefined;
}

/** `=` seen at text[at - 1] after `symbols` symbols of a quantum. */
function padding(text: string, at: number, symbols: number): number | undefined {
  if (symbols < 2) return at - 1;
  let i = at;
  const skip = () => {
    while (i < text.length && (text[i] === "\r" || text[i] === "\n")) i++;
  };
  if (symbols === 2) {
    skip();
    if (i >= text.length) return text.length; // not enough padding
    if (text[i] !== "=") return i - 1;
    i++;
  }
  skip();
  return i < text.length ? i : undefined;
}
