import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { sha256Hex } from "../../lib/sha256.ts";

Deno.test("sha256Hex", async (t) => {
  await t.step("gives FIPS 180-4's digests of its examples", () => {
    assert.equal(
      sha256Hex("abc"),
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
    assert.equal(
      sha256Hex(""),
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
    assert.equal(
      sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    );
  });

  await t.step("agrees with node:crypto at every length around a block's edges", () => {
    // 55/56 and 119/120 bytes: where the length stops fitting in the last block.
    for (let n = 0; n <= 200; n++) {
      const text = Array.from({ length: n }, (_, i) => String.fromCharCode(32 + (i * 7) % 95))
        .join("");
      assert.equal(sha256Hex(text), createHash("sha256").update(text).digest("hex"), `n=${n}`);
    }
  });

  await t.step("hashes the UTF-8 bytes of text outside ASCII", () => {
    for (
      const text of ["é", "€uro", "日本語のテキスト", "🏨 hotel", "\u0000\uffff", "a".repeat(5000)]
    ) {
      assert.equal(sha256Hex(text), createHash("sha256").update(text, "utf8").digest("hex"));
    }
  });
});
