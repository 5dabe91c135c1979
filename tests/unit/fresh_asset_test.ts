import assert from "node:assert/strict";
import { asset, assetSrcSet, IS_BROWSER } from "fresh/runtime";
import { getBuildId, setBuildId } from "../../lib/fresh/asset.ts";

Deno.test("asset: adds the build id to our own URLs only", () => {
  const previous = getBuildId();
  setBuildId("b1");
  try {
    assert.equal(asset("/styles.css"), "/styles.css?__frsh_c=b1");
    assert.equal(asset("/a.png?x=1#top"), "/a.png?x=1&__frsh_c=b1#top");
    assert.equal(asset("/a.png?__frsh_c=old"), "/a.png?__frsh_c=old");
    assert.equal(asset("https://cdn.example/x.js"), "https://cdn.example/x.js");
    assert.equal(asset("//cdn.example/x.js"), "//cdn.example/x.js");
    assert.equal(asset("relative.css"), "relative.css");
    assert.equal(
      assetSrcSet("/a.png 1x, /b.png 2x"),
      "/a.png?__frsh_c=b1 1x, /b.png?__frsh_c=b1 2x",
    );
  } finally {
    if (previous !== undefined) setBuildId(previous);
  }
});

Deno.test("runtime: IS_BROWSER is false on the server", () => {
  assert.equal(IS_BROWSER, false);
});
