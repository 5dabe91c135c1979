import assert from "node:assert/strict";
import { generateManifest, PROJECT_ROOT } from "../../scripts/manifest.ts";
import { FIXTURE_ROOT } from "../fixtures/fresh_app/testing.ts";

for (const [name, root] of [["project", PROJECT_ROOT], ["fixture", FIXTURE_ROOT]]) {
  Deno.test(`manifest: the ${name}'s fresh.gen.ts is up to date`, async () => {
    const expected = await generateManifest(root);
    const actual = await Deno.readTextFile(`${root}/fresh.gen.ts`);
    assert.equal(
      actual,
      expected,
      `${root}/fresh.gen.ts is stale: run \`deno task manifest${
        name === "fixture" ? ` ${root}` : ""
      }\``,
    );
  });
}

Deno.test("manifest: lists routes and islands, skips tests and dot files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fresh-manifest-" });
  try {
    await Deno.mkdir(`${dir}/routes/runs`, { recursive: true });
    await Deno.mkdir(`${dir}/islands`);
    for (
      const f of ["routes/index.tsx", "routes/runs/[id].tsx", "routes/a-b.ts", "routes/a_b.ts"]
    ) {
      await Deno.writeTextFile(`${dir}/${f}`, "export {};\n");
    }
    for (const f of ["routes/x_test.ts", "routes/.hidden.ts", "routes/notes.md", "islands/C.tsx"]) {
      await Deno.writeTextFile(`${dir}/${f}`, "export {};\n");
    }
    const text = await generateManifest(dir);
    assert.match(text, /import \* as \$routes_index from "\.\/routes\/index\.tsx";/);
    assert.match(text, /"\.\/routes\/runs\/\[id\]\.tsx": \$routes_runs__id_,/);
    assert.match(text, /"\.\/routes\/a-b\.ts": \$routes_a_b,/);
    assert.match(text, /"\.\/routes\/a_b\.ts": \$routes_a_b_2,/, "names never collide");
    assert.match(text, /"\.\/islands\/C\.tsx": \$islands_C,/);
    assert.doesNotMatch(text, /x_test|hidden|notes/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
