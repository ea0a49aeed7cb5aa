// The pure packages compile against ECMAScript alone (no DOM, no Node typings), so the few web
// standard globals they use are declared here. Node and browsers both provide them.
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean });
  // As the standard has it, `stream` included: one type-check of the whole workspace
  // (tsconfig.check.json) merges this with Node's and takes this one for client/'s parser.
  decode(input?: Uint8Array, options?: { stream?: boolean }): string;
}
