/** See proto-outline-lib.mjs. */
export function protoOutline(text: string): string[];
