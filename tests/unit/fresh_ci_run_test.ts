/**
 * `.ci/run` against fake `npx` and `chromium` commands (a copy of the script in a temp folder,
 * so nothing real is installed or run): a stale lock fails CI, and the last line is always the
 * plain `N passed, N failed` summary.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

const ROOT = decodeURIComponent(new URL("../../", import.meta.url).pathname).replace(/\/$/, "");

// Logs each call; `install --frozen` fails when FAKE_FROZEN=stale; `task test` prints a
// deno-test-like summary.
const FAKE_NPX = `#!/bin/sh
echo "$*" >> "$FAKE_LOG"
case "$*" in
  *"install --frozen"*) [ "$FAKE_FROZEN" = stale ] && { echo "error: lockfile is out of date" >&2; exit 1; } ;;
  *"--version"*) echo "deno 2.9.6 (fake)" ;;
  *"task test"*) echo "ok | 7 passed (2 steps) | 0 failed (1s)" ;;
esac
exit 0
`;

describe(".ci/run", () => {
  let dir: string;
  before(async () => {
    dir = await Deno.makeTempDir({ prefix: "fresh-ci-run-" });
    await Deno.mkdir(`${dir}/project/.ci`, { recursive: true });
    await Deno.copyFile(`${ROOT}/.ci/run`, `${dir}/project/.ci/run`);
    await Deno.mkdir(`${dir}/bin`);
    await Deno.writeTextFile(`${dir}/bin/npx`, FAKE_NPX, { mode: 0o755 });
    // The peers' install: logged with the folder it ran in, so the test sees it ran in tests/peers.
    await Deno.writeTextFile(
      `${dir}/bin/npm`,
      '#!/bin/sh\necho "npm $* in ${PWD##*/project/}" >> "$FAKE_LOG"\nexit 0\n',
      { mode: 0o755 },
    );
    await Deno.mkdir(`${dir}/project/tests/peers`, { recursive: true });
    // Present, so the script never reaches apt-get.
    await Deno.writeTextFile(`${dir}/bin/chromium`, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  });
  after(async () => {
    await Deno.remove(dir, { recursive: true });
  });

  async function ciRun(env: Record<string, string>) {
    const log = `${dir}/calls-${crypto.randomUUID()}.log`;
    await Deno.writeTextFile(log, "");
    const out = await new Deno.Command("bash", {
      args: [`${dir}/project/.ci/run`],
      clearEnv: true,
      env: { PATH: `${dir}/bin:/usr/bin:/bin`, HOME: dir, FAKE_LOG: log, ...env },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    const calls = (await Deno.readTextFile(log)).trim().split("\n");
    return { code: out.code, stdout, last: stdout.trimEnd().split("\n").at(-1), calls };
  }

  it("under CI a failing `deno install --frozen` fails the run; no plain install hides it", async () => {
    const run = await ciRun({ CI: "true", FAKE_FROZEN: "stale" });
    assert.notEqual(run.code, 0, run.stdout);
    assert.equal(run.last, "0 passed, 1 failed");
    assert.match(run.stdout, /lockfile is out of date/, "the install's error is shown");
    assert.ok(run.calls.includes("--yes deno@2.9.6 install --frozen"), run.calls.join("\n"));
    assert.ok(!run.calls.includes("--yes deno@2.9.6 install"), "no install without --frozen");
    assert.ok(!run.calls.some((c) => c.includes("task")), "neither check nor tests ran");
  });

  it("CI is the default when the variable is unset", async () => {
    const run = await ciRun({ FAKE_FROZEN: "stale" });
    assert.notEqual(run.code, 0);
    assert.equal(run.last, "0 passed, 1 failed");
  });

  it("with a current lock it checks, tests and ends with the summary line", async () => {
    const run = await ciRun({ CI: "true", FAKE_FROZEN: "ok" });
    assert.equal(run.code, 0, run.stdout);
    assert.equal(run.last, "7 passed, 0 failed");
    assert.deepEqual(run.calls.filter((c) => c.includes("task")), [
      "--yes deno@2.9.6 task check",
      "--yes deno@2.9.6 task test",
    ]);
    assert.ok(
      run.calls.includes("npm ci --no-audit --no-fund in tests/peers"),
      `the test peers are installed from their lock: ${run.calls.join("\n")}`,
    );
  });

  it("outside CI a stale lock is reinstalled and the run goes on", async () => {
    const run = await ciRun({ CI: "false", FAKE_FROZEN: "stale" });
    assert.equal(run.code, 0, run.stdout);
    assert.ok(run.calls.includes("--yes deno@2.9.6 install"), run.calls.join("\n"));
    assert.equal(run.last, "7 passed, 0 failed");
  });
});
