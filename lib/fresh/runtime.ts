/**
 * `fresh/runtime`: what islands and other browser code may import. No server code and no Deno
 * APIs here, so anything importing it can be bundled for the browser.
 * @module
 */

export { asset, assetSrcSet } from "./asset.ts";
export { HttpError } from "./http_error.ts";

/** True in the browser (a `document` exists), false during server rendering. */
export const IS_BROWSER: boolean = typeof document !== "undefined";
