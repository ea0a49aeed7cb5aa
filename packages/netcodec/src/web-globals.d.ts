// The pure packages compile against ECMAScript alone (no DOM, no Node typings), so the few web
// standard globals they use are declared here. Node and browsers both provide them.
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean });
  decode(input?: Uint8Array, options?: { stream?: boolean }): string;
}
