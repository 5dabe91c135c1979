import assert from "node:assert/strict";
import { Signal, signal } from "@preact/signals";
import { escapeForScript, serialize, SerializeError } from "../../lib/fresh/serialize.ts";
import { deserialize } from "../../lib/fresh/deserialize.ts";

const roundTrip = (value: unknown) => deserialize(serialize(value));

Deno.test("serialize: JSON values, nested objects and arrays round-trip", () => {
  const value = {
    s: "text",
    n: 1.5,
    zero: 0,
    t: true,
    f: false,
    nil: null,
    list: [1, [2, [3, { deep: "yes" }]], "x"],
    obj: { a: { b: { c: [] } } },
    empty: {},
    unicode: "caf\u00e9 \u2028 \u{1F600}",
  };
  assert.deepEqual(roundTrip(value), value);
});

Deno.test("serialize: undefined, NaN, infinities, -0, bigint", () => {
  const out = roundTrip({
    u: undefined,
    arr: [undefined, 1],
    nan: NaN,
    inf: Infinity,
    ninf: -Infinity,
    nz: -0,
    big: 12345678901234567890n,
  }) as Record<string, unknown>;
  assert.ok("u" in out && out.u === undefined, "undefined keys are kept");
  assert.deepEqual(out.arr, [undefined, 1]);
  assert.ok(Number.isNaN(out.nan));
  assert.equal(out.inf, Infinity);
  assert.equal(out.ninf, -Infinity);
  assert.ok(Object.is(out.nz, -0));
  assert.equal(out.big, 12345678901234567890n);
});

Deno.test("serialize: Date, URL, RegExp, Map, Set", () => {
  const when = new Date(Date.UTC(2024, 1, 29, 12));
  const out = roundTrip({
    when,
    bad: new Date(NaN),
    url: new URL("https://example.com/a?b=c"),
    re: /a+b/gi,
    map: new Map<unknown, unknown>([["k", 1], [2, { v: true }]]),
    set: new Set([1, "two"]),
  }) as Record<string, unknown>;
  assert.ok(out.when instanceof Date && out.when.getTime() === when.getTime());
  assert.ok(out.bad instanceof Date && Number.isNaN(out.bad.getTime()));
  assert.ok(out.url instanceof URL && out.url.href === "https://example.com/a?b=c");
  assert.ok(out.re instanceof RegExp && out.re.source === "a+b" && out.re.flags === "gi");
  assert.deepEqual(out.map, new Map<unknown, unknown>([["k", 1], [2, { v: true }]]));
  assert.deepEqual(out.set, new Set([1, "two"]));
});

Deno.test("serialize: signals become live signals; shared ones stay shared", () => {
  const count = signal(3);
  const nested = signal({ items: [1, 2] });
  const out = roundTrip([{ count }, { count, nested }]) as Record<string, Signal<unknown>>[];
  assert.ok(out[0].count instanceof Signal);
  assert.equal(out[0].count.value, 3);
  assert.equal(out[0].count, out[1].count, "one signal, two islands");
  assert.deepEqual(out[1].nested.value, { items: [1, 2] });
  out[0].count.value = 4;
  assert.equal(out[1].count.value, 4);
});

Deno.test("serialize: shared and circular references survive", () => {
  const shared = { id: 1 };
  const circ: Record<string, unknown> = { name: "loop" };
  circ.self = circ;
  const out = roundTrip({ a: shared, b: shared, circ }) as Record<string, Record<string, unknown>>;
  assert.equal(out.a, out.b);
  assert.equal(out.circ.self, out.circ);
});

Deno.test("serialize: hostile keys and strings stay data", () => {
  const text = `</script><script>alert(1)</script><!-- \u2028 "'`;
  const json = serialize({ ["__proto__"]: { polluted: true }, text });
  const out = deserialize(json) as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(out), Object.prototype);
  assert.deepEqual(Object.getOwnPropertyDescriptor(out, "__proto__")?.value, { polluted: true });
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(out.text, text);
  const safe = escapeForScript(json);
  assert.ok(!safe.includes("<"), "no < can end a script or open a comment");
  assert.ok(!safe.includes("\u2028"));
  assert.deepEqual(deserialize(safe), out, "the escaped text is still the same JSON");
});

Deno.test("serialize: functions, symbols and class instances are refused with a path", () => {
  assert.throws(() => serialize({ a: { onClick: () => {} } }), (err: unknown) => {
    assert.ok(err instanceof SerializeError);
    assert.match(err.message, /function .* at props\.a\.onClick/);
    return true;
  });
  assert.throws(() => serialize({ s: Symbol("x") }), /symbol at props\.s/);
  class Thing {}
  assert.throws(() => serialize([new Thing()]), /instance of Thing at props\[0\]/);
});

Deno.test("deserialize: rejects unknown tags and garbage", () => {
  assert.throws(() => deserialize('[["Nope", 1]]'), /Unknown serialized type/);
  assert.throws(() => deserialize("{}"), /Invalid/);
});
