/**
 * The Lambda bundle's stand-in for the `whatwg-url` package (tools/bundle.ts aliases it): Node's
 * own URL and URLSearchParams implement the same WHATWG standard, so mongodb-connection-string-url
 * needs no 300 KB of Unicode tables (tr46) in the zip.
 */
export const URL = globalThis.URL;
export const URLSearchParams = globalThis.URLSearchParams;
