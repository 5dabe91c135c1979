/**
 * The console in real Chromium against the real app (in-process gateway, built-in LangGraph
 * service or the scripted fake upstream): the approve path by keyboard alone (where focus goes,
 * what stays in view), reject, abort, a run left waiting, a stream cut by a TCP proxy, a document
 * and an event row whose renderers throw, an upstream failure, the page without JavaScript, and
 * screenshots at 1280 and 360 px.
 * @module
 */
import assert from "node:assert/strict";
import { chromium, type Locator, type Page } from "playwright-core";
import { buildIslands } from "../../lib/fresh/dev/build.ts";
import { startGateway, type TestGateway } from "../fixtures/gateway.ts";
import { FAKE_TS, type Script, startFakeUpstream } from "../fixtures/fake_upstream.ts";
import { startTcpProxy } from "../fixtures/tcp_proxy.ts";
import { browserTest, CHROMIUM_ARGS, findChromium } from "./browser.ts";

const ROOT = decodeURIComponent(new URL("../../", import.meta.url).pathname).replace(/\/$/, "");
const HOTEL_PROMPT = "Create a hotel reservation for John Doe";

// The pages need the island bundle of the current sources.
await buildIslands({ root: ROOT, ifMissing: true });

/** Page errors and console lines, collected for assertions. */
function watch(page: Page): { errors: string[]; logs: string[] } {
  const errors: string[] = [];
  const logs: string[] = [];
  page.on("pageerror", (err) => errors.push(err.message));
  page.on("console", (msg) => {
    logs.push(msg.text());
    if (msg.type() === "error" && !msg.location().url.endsWith("/favicon.ico")) {
      errors.push(msg.text());
    }
  });
  return { errors, logs };
}

async function openConsole(page: Page, base: string): Promise<void> {
  await page.goto(`${base}/`);
  // The page's CSP forbids eval, so no string predicates: the island marks itself ready.
  await page.waitForSelector(".console[data-ready]");
}

async function run(page: Page, prompt: string): Promise<void> {
  await page.fill("#prompt", prompt);
  await page.getByRole("button", { name: "Run workflow" }).click();
}

async function waitStatus(page: Page, text: string): Promise<void> {
  const exact = new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`);
  await page.getByTestId("status").filter({ hasText: exact }).waitFor();
}

function rowTypes(page: Page): Promise<string[]> {
  return page.locator("[data-testid=events] > li").evaluateAll((els) =>
    els.map((e) => e.getAttribute("data-type") ?? "")
  );
}

function rowSeqs(page: Page): Promise<number[]> {
  return page.locator("[data-testid=events] > li").evaluateAll((els) =>
    els.map((e) => Number(e.getAttribute("data-seq")))
  );
}

/** Records every text the status line shows, from now on (a MutationObserver in the page). */
async function recordStatuses(page: Page): Promise<void> {
  await page.evaluate(`(() => {
    globalThis.__statuses = [];
    new MutationObserver(() => {
      const t = document.querySelector('[data-testid=status]')?.textContent;
      if (t && t !== globalThis.__statuses.at(-1)) globalThis.__statuses.push(t);
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  })()`);
}

/** The focused element (`body` when focus was lost) and whether it shows a focus ring. */
function focused(page: Page): Promise<{ on: string; ring: boolean }> {
  return page.evaluate(`(() => {
    const el = document.activeElement ?? document.body;
    const cs = getComputedStyle(el);
    const on = el === document.body ? "body" : el.tagName.toLowerCase() +
      (el.id ? "#" + el.id : "") + (el.classList[0] ? "." + el.classList[0] : "");
    const ring = (cs.outlineStyle !== "none" && parseFloat(cs.outlineWidth) > 0) ||
      cs.boxShadow !== "none";
    return { on, ring };
  })()`);
}

/** Presses Tab (at most 30 times) until `target` has focus; every stop shows a focus ring. */
async function tabTo(page: Page, target: Locator): Promise<void> {
  for (let i = 0; i < 30; i++) {
    await page.keyboard.press("Tab");
    const f = await focused(page);
    assert.ok(f.ring, `no visible focus on ${f.on}`);
    if (await target.evaluate((el) => el === document.activeElement)) return;
  }
  assert.fail(`Tab never reached ${target}`);
}

/** Where `selector` is on screen: its top and bottom, and the viewport's height. */
function box(page: Page, selector: string): Promise<{ top: number; bottom: number; vh: number }> {
  return page.locator(selector).evaluate((el) => {
    const r = el.getBoundingClientRect();
    return { top: r.top, bottom: r.bottom, vh: globalThis.innerHeight };
  });
}

/** Asserts `selector` is wholly visible, below the sticky 56 px top bar. */
async function assertInView(page: Page, selector: string, what: string): Promise<void> {
  const b = await box(page, selector);
  assert.ok(b.top >= 55 && b.bottom <= b.vh + 1, `${what} is out of view: ${JSON.stringify(b)}`);
}

/** How many lines each date of the summary's Dates value spans (1 = unbroken). */
function dateLines(page: Page): Promise<number[]> {
  return page.locator(".panel .summary div", { hasText: "Dates" }).locator("dd").evaluate((dd) => {
    const text = dd.firstChild as Text;
    return [...text.data.matchAll(/\d{4}-\d\d-\d\d/g)].map((m) => {
      const range = document.createRange();
      range.setStart(text, m.index!);
      range.setEnd(text, m.index! + m[0].length);
      return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
    });
  });
}

async function withGateway(
  env: Record<string, string>,
  fn: (gw: TestGateway) => Promise<void>,
): Promise<void> {
  const gw = await startGateway(env);
  try {
    await fn(gw);
  } finally {
    await gw.close();
  }
}

const PRE_GATE = [
  "workflow_initialized",
  "step_started",
  "step_completed",
  "artifact",
  "step_started",
  "step_completed",
  "step_started",
  "approval_required",
];

browserTest("console: hotel run by keyboard, approve, invoice, screenshots", async ({ page }) => {
  await withGateway({}, async (gw) => {
    const { errors, logs } = watch(page);
    await page.setViewportSize({ width: 1280, height: 900 });
    await openConsole(page, gw.url);
    // The picker is fed by the workflow service's graphs, rendered on the server.
    const options = await page.locator("#graph option").evaluateAll((els) =>
      els.map((e) => (e as HTMLOptionElement).value)
    );
    assert.deepEqual(options, ["hotel_o2c", "hospital_admission", "purchase_order"]);
    // Keyboard only: Tab to the example chip, Enter fills the prompt, Enter runs it.
    await tabTo(page, page.getByRole("button", { name: HOTEL_PROMPT, exact: true }));
    await page.keyboard.press("Enter");
    assert.equal(await page.inputValue("#prompt"), HOTEL_PROMPT);
    assert.deepEqual(await focused(page), { on: "textarea#prompt", ring: true });
    await page.keyboard.press("Enter");

    await waitStatus(page, "waiting for approval");
    assert.deepEqual(await rowTypes(page), PRE_GATE);
    // The card was brought into view in the sidebar; focus stayed in the prompt.
    await assertInView(page, ".approval", "the approval card");
    await assertInView(page, "[data-testid=status]", "the status line");
    assert.equal((await focused(page)).on, "textarea#prompt");
    assert.equal(await page.locator(".approval h3").textContent(), "Approval needed");
    assert.match(await page.locator(".approval-message").textContent() ?? "", /John Doe/);
    assert.equal(
      await page.locator(".step[data-step=manager_approval]").getAttribute("data-state"),
      "waiting",
    );
    assert.equal(
      await page.locator(".step[data-step=invoice]").getAttribute("data-state"),
      "pending",
    );
    const runId = await page.locator(".panel").getAttribute("data-run");
    assert.ok(runId);
    assert.equal(new URL(page.url()).searchParams.get("run"), runId, "the run id is in the URL");

    await tabTo(page, page.locator(".approval textarea"));
    await page.keyboard.type("VIP guest");
    await page.keyboard.press("Tab");
    assert.deepEqual(await focused(page), { on: "button.btn", ring: true });
    assert.equal(await page.evaluate("document.activeElement.textContent"), "Approve");
    await page.keyboard.press("Enter");
    await waitStatus(page, "complete");

    assert.match(await page.getByTestId("decision").textContent() ?? "", /Approved — “VIP guest”/);
    // The Approve button is gone; focus moved to the decision, not to <body>, and shows.
    assert.deepEqual(await focused(page), { on: "p.decision", ring: true });
    const states = await page.locator(".step").evaluateAll((els) =>
      els.map((e) => e.getAttribute("data-state"))
    );
    assert.deepEqual(states, ["done", "done", "done", "done", "done", "done"]);
    // The invoice as a document: line items and totals.
    const invoice = page.locator("[data-artifact=invoice]");
    assert.match(await invoice.locator(".doc-meta").textContent() ?? "", /^INV-/);
    assert.deepEqual(
      await invoice.locator(".doc-table tbody tr td:first-child").allTextContents(),
      ["Double room, 1 night", "City tourism fee"],
    );
    assert.deepEqual(
      await invoice.locator(".doc-totals dt").allTextContents(),
      ["Subtotal", "Occupancy tax (12%)", "Total"],
    );
    assert.equal(await invoice.locator(".doc-totals div:last-child dd").textContent(), "$203.98");
    // The hotel summary: guest, room, dates, amount.
    const summary = await page.locator(".panel .summary dt").allTextContents();
    assert.deepEqual(summary, ["Guest", "Room", "Dates", "Amount"]);
    assert.equal(await page.locator(".panel .summary dd").first().textContent(), "John Doe");

    // Dates stay whole ("2026-12-02 → 2026-12-03" never wraps inside a date).
    assert.deepEqual(await dateLines(page), [1, 1]);
    // The newest events of the run, in order, up to the panel's 20 (the workflow may add events).
    const run = await gw.services.store.get(runId);
    assert.ok(run);
    const shown = Math.min(20, run.eventCount);
    assert.deepEqual(
      await rowSeqs(page),
      Array.from({ length: shown }, (_, i) => run.eventCount - shown + i + 1),
    );
    assert.equal((await rowTypes(page)).at(-1), "workflow_complete");
    // Scrolled to the end of the panel, the status line is still in sight (sticky head).
    await page.locator(".panel-foot").scrollIntoViewIfNeeded();
    await assertInView(page, ".panel-foot", "the panel's end");
    await assertInView(page, "[data-testid=status]", "the status line at the end");
    assert.ok(logs.includes("[workflow] event: workflow_initialized"));
    assert.ok(logs.includes("[workflow] event: workflow_complete"));
    assert.deepEqual(errors, []);

    await Deno.mkdir(`${ROOT}/test-results`, { recursive: true });
    // Tall enough for the whole sticky sidebar (it scrolls on its own in a normal window).
    await page.setViewportSize({ width: 1280, height: 1800 });
    await page.screenshot({ path: `${ROOT}/test-results/console-1280.png` });
    await page.setViewportSize({ width: 360, height: 780 });
    const overflow = await page.evaluate(
      "document.documentElement.scrollWidth - document.documentElement.clientWidth",
    );
    assert.equal(overflow, 0, "no horizontal scrolling at 360 px");
    assert.deepEqual(await dateLines(page), [1, 1], "dates whole at 360 px");
    await page.screenshot({ path: `${ROOT}/test-results/console-360.png`, fullPage: true });
    // At 360 px the page scrolls; the status line sticks under the top bar.
    await page.locator(".panel-foot").scrollIntoViewIfNeeded();
    await assertInView(page, "[data-testid=status]", "the status line at 360 px");

    // The full timeline, server-rendered without any script.
    await page.getByRole("link", { name: "Full timeline →" }).click();
    await page.waitForURL(`**/runs/${runId}`);
    assert.equal(await page.locator("script").count(), 0);
    assert.equal(await page.locator(".events-full > li").count(), run.eventCount);
    assert.equal(await page.getByTestId("status").textContent(), "complete");
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.screenshot({ path: `${ROOT}/test-results/run-page-1280.png`, fullPage: true });

    // An unknown run id is a 404 page, still without scripts.
    const res = await page.goto(`${gw.url}/runs/no-such-run`);
    assert.equal(res?.status(), 404);
    assert.equal(await page.locator("h1").textContent(), "No run with this id");
    assert.equal(await page.locator("script").count(), 0);
  });
});

browserTest("console at 360 px: a run left waiting is pointed to; reject", async ({ page }) => {
  await withGateway({}, async (gw) => {
    await page.setViewportSize({ width: 360, height: 780 });
    await openConsole(page, gw.url);
    await run(page, HOTEL_PROMPT);
    await waitStatus(page, "waiting for approval");
    await assertInView(page, ".approval", "the approval card at 360 px");
    const first = await page.locator(".panel").getAttribute("data-run");
    assert.ok(first);

    // "Start new run" at the gate: the first run keeps waiting, and the console says where.
    await page.getByRole("button", { name: "Start new run" }).click();
    const note = page.locator(".console .note");
    assert.match(
      await note.textContent() ?? "",
      /^You left a run waiting for approval: open it in Runs\.$/,
    );
    assert.equal(await note.locator("a").getAttribute("href"), `/runs/${first}`);
    await waitStatus(page, "waiting for approval");
    assert.notEqual(await page.locator(".panel").getAttribute("data-run"), first);
    assert.equal((await gw.services.store.get(first))?.status, "waiting_approval");

    await page.getByRole("button", { name: "Reject" }).click();
    await waitStatus(page, "rejected");
    assert.match(await page.getByTestId("decision").textContent() ?? "", /^Rejected/);
    assert.equal((await focused(page)).on, "p.decision", "focus moved to the decision");
    assert.equal(
      await page.locator(".step[data-step=check_in]").getAttribute("data-state"),
      "skipped",
    );
    assert.equal(await page.locator("[data-artifact=invoice]").count(), 0);
    assert.equal(await page.getByRole("button", { name: "Abort run" }).count(), 0);
  });
});

browserTest("console: Abort stops a running workflow", async ({ page }) => {
  await withGateway({ WORKFLOW_STEP_DELAY_MS: "400" }, async (gw) => {
    await openConsole(page, gw.url);
    await run(page, HOTEL_PROMPT);
    await page.waitForSelector(".step[data-step=reservation][data-state=running]");
    await page.getByRole("button", { name: "Abort run" }).click();
    await waitStatus(page, "aborted");
    assert.equal((await rowTypes(page)).at(-1), "workflow_aborted");
    // The Abort button is gone; focus went to the status line, which now says "aborted".
    assert.equal((await focused(page)).on, "p.status");
    const runId = await page.locator(".panel").getAttribute("data-run");
    assert.equal((await gw.services.store.get(runId!))?.status, "aborted");
  });
});

browserTest(
  "console: a cut stream reconnects (1/3) and goes on without duplicates",
  async ({ page }) => {
    await withGateway({ WORKFLOW_STEP_DELAY_MS: "150" }, async (gw) => {
      const proxy = startTcpProxy(gw.port);
      try {
        await openConsole(page, proxy.url);
        await recordStatuses(page);
        await run(page, HOTEL_PROMPT);
        await page.waitForSelector(".step[data-step=reservation][data-state=done]");
        assert.ok(proxy.cutAll() >= 1, "a live connection was cut");
        await waitStatus(page, "waiting for approval");
        const statuses = await page.evaluate("globalThis.__statuses") as string[];
        assert.ok(statuses.includes("reconnecting 1/3"), `statuses: ${statuses.join(", ")}`);
        assert.ok((await rowTypes(page)).includes("workflow_reconnecting"));
        await page.getByRole("button", { name: "Approve" }).click();
        await waitStatus(page, "complete");
        const seqs = (await rowSeqs(page)).filter((n) => n > 0);
        assert.equal(new Set(seqs).size, seqs.length, `no duplicate rows: ${seqs.join(",")}`);
        assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), "rows in order");
        assert.equal(
          seqs.at(-1),
          (await gw.services.store.get(
            (await page.locator(".panel").getAttribute("data-run"))!,
          ))?.eventCount,
        );
      } finally {
        await proxy.close();
      }
    });
  },
);

/** The timestamp of the one event whose row cannot be rendered. */
const BROKEN_TS = "1999-12-31T23:59:59.000Z";

/**
 * Makes the event row's renderer throw for that event alone: its clock (`toISOString`) fails
 * for 1999 dates. Installed before the page's own scripts run.
 */
const CLOCK_BREAKS = `(() => {
  const iso = Date.prototype.toISOString;
  Date.prototype.toISOString = function () {
    if (this.getUTCFullYear() === 1999) throw new Error("the clock broke");
    return iso.call(this);
  };
})()`;

/** An invoice whose `line_items` is not a list: its renderer throws. */
const throwingInvoice: Script = (w, ctx) => {
  const base = { workflowId: ctx.request.thread_id, ts: FAKE_TS };
  w.frame("workflow_initialized", { ...base, graph: ctx.request.graph_name });
  w.frame("step_started", { ...base, step: "invoice" });
  w.frame("artifact", {
    ...base,
    name: "invoice",
    mime: "application/json",
    content: { invoice_number: "INV-BAD", line_items: "not a list", total: 10 },
  });
  w.frame("artifact", {
    ...base,
    name: "loyalty_card",
    mime: "application/json",
    content: { tier: "gold" },
  });
  w.frame("step_completed", { ...base, step: "invoice", result: {} });
  // A chatty run: more events than the panel keeps. One row's renderer throws (see CLOCK_BREAKS).
  for (let i = 1; i <= 25; i++) {
    w.frame("progress", { ...base, percent: i * 4 });
    if (i === 20) w.frame("progress", { ...base, ts: BROKEN_TS, percent: -1 });
  }
  w.frame("workflow_complete", { ...base, status: "complete", result: { ok: true } });
};

browserTest(
  "console: a throwing renderer shows a fallback, the stream goes on; upstream failure",
  async ({ page }) => {
    const fake = await startFakeUpstream({ script: throwingInvoice });
    try {
      await withGateway({ WORKFLOW_SERVICE_URL: fake.url }, async (gw) => {
        const { errors } = watch(page);
        await page.addInitScript(CLOCK_BREAKS);
        await openConsole(page, gw.url);
        await run(page, HOTEL_PROMPT);
        await waitStatus(page, "complete");
        assert.match(
          await page.locator(".docs .fallback").textContent() ?? "",
          /Could not display the invoice document: Invoice: line_items is not a list/,
        );
        // The row whose renderer threw is a fallback row; the rows around it render normally.
        const broken = page.locator("[data-testid=events] > li", {
          has: page.locator(".fallback"),
        });
        assert.equal(await broken.count(), 1);
        const brokenSeq = Number(await broken.getAttribute("data-seq"));
        assert.match(
          await broken.textContent() ?? "",
          /^Could not display this event: the clock broke$/,
        );
        assert.match(
          await page.locator(`li[data-seq='${brokenSeq - 1}'] .ev-text`).textContent() ?? "",
          /"percent":80/,
        );
        // Events after the broken ones still arrived; the log keeps only the newest 20.
        const types = await rowTypes(page);
        assert.equal(types.length, 20);
        assert.deepEqual(types.slice(-2), ["progress", "workflow_complete"]);
        const seqs = await rowSeqs(page);
        assert.equal(seqs.at(-1)! - brokenSeq, 6, "five progress rows and the end came after it");
        assert.deepEqual(seqs, Array.from({ length: 20 }, (_, i) => seqs[0] + i));
        assert.match(
          await page.locator(".panel .muted").textContent() ?? "",
          new RegExp(`^${seqs[0] - 1} earlier events`),
        );
        // Unknown event types get a generic row; unknown documents show as JSON.
        assert.match(
          await page.locator(`li[data-seq='${seqs.at(-2)}'] .ev-text`).textContent() ?? "",
          /"percent":100/,
        );
        assert.match(
          await page.locator("[data-artifact=loyalty_card] pre").textContent() ?? "",
          /gold/,
        );
        assert.deepEqual(errors, [], "the error was caught, not thrown to the page");

        // An upstream that breaks mid-run: a clear error state, nothing left to abort.
        fake.setScript("broken");
        await page.getByRole("button", { name: "Run workflow" }).click();
        await waitStatus(page, "error");
        assert.match(await page.getByTestId("run-error").textContent() ?? "", /^Run failed — \S/);
        assert.equal(await page.getByRole("button", { name: "Abort run" }).count(), 0);
      });
    } finally {
      await fake.close();
    }
  },
);

browserTest(
  "console without JavaScript: the composer is disabled and says why",
  async ({ page }) => {
    const controls = ["#graph", "#prompt", "button[type=submit]", ".chip-btn"];
    await withGateway({}, async (gw) => {
      const profile = await Deno.makeTempDir({ prefix: "e2e-nojs-" });
      const noJs = await chromium.launchPersistentContext(profile, {
        executablePath: findChromium()!,
        headless: true,
        args: CHROMIUM_ARGS,
        javaScriptEnabled: false,
      });
      try {
        noJs.setDefaultTimeout(10_000);
        const bare = noJs.pages()[0] ?? await noJs.newPage();
        await bare.goto(`${gw.url}/`);
        assert.equal(await bare.locator(".console[data-ready]").count(), 0, "no island ran");
        for (const control of controls) {
          const el = bare.locator(`.console ${control}`).first();
          assert.ok(await el.isDisabled(), `${control} is disabled without JavaScript`);
        }
        // (Playwright's text search skips <noscript>, so find the note by its place.)
        const note = bare.locator(".sidebar noscript .alert");
        assert.ok(await note.isVisible(), "the needs-JavaScript note is shown");
        assert.match(await note.textContent() ?? "", /^The live panel needs JavaScript\./);
        assert.ok(await bare.getByText("No run yet").isVisible());
      } finally {
        await noJs.close();
        await Deno.remove(profile, { recursive: true }).catch(() => {});
      }
      // With JavaScript the island enables the same controls.
      await openConsole(page, gw.url);
      for (const control of controls) {
        const el = page.locator(`.console ${control}`).first();
        assert.ok(await el.isEnabled(), `${control} is enabled once the island runs`);
      }
    });
  },
);

/** Signs in on `/login` (where a gated page sent the browser) and waits for `path`. */
async function signIn(page: Page, base: string, path: string, token: string): Promise<void> {
  await page.goto(`${base}${path}`);
  assert.equal(new URL(page.url()).pathname, "/login", "a gated page sends the browser to /login");
  await page.fill("#login-token", token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${base}${path}`);
}

browserTest("console: signing in with the gateway token opens the console and the runs", async ({
  page,
}) => {
  const token = "console-test-token-0123456789";
  await withGateway({ GATEWAY_TOKEN: token }, async (gw) => {
    const { errors } = watch(page);
    // A wrong token keeps the form, with the reason.
    await page.goto(`${gw.url}/runs`);
    await page.fill("#login-token", "not-the-token-0123456789");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").filter({ hasText: "That is not the gateway token." }).waitFor();

    await signIn(page, gw.url, "/", token);
    await page.waitForSelector(".console[data-ready]");
    // The island's /agui calls ride on the session cookie: no token is asked for.
    await run(page, HOTEL_PROMPT);
    await waitStatus(page, "waiting for approval");
    assert.equal(await page.locator("#token").count(), 0);
    assert.equal(await page.evaluate("sessionStorage.getItem('workflow-stream.token')"), null);
    const cookies = await page.context().cookies();
    const session = cookies.find((c) => c.name === "ws_session");
    assert.ok(session?.httpOnly, "the session cookie is HttpOnly");
    assert.equal(session?.sameSite, "Strict");
    await page.getByRole("button", { name: "Approve" }).click();
    await waitStatus(page, "complete");

    await page.goto(`${gw.url}/runs`);
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(`${gw.url}/login`);
    await page.goto(`${gw.url}/runs`);
    assert.equal(new URL(page.url()).pathname, "/login", "signed out");
    assert.deepEqual(errors.filter((e) => !/401|Unauthorized/.test(e)), []);
  });
});

browserTest("console: once the session is gone, the console offers to sign in again", async ({
  page,
}) => {
  const token = "console-test-token-0123456789";
  await withGateway({ GATEWAY_TOKEN: token }, async (gw) => {
    await signIn(page, gw.url, "/", token);
    await page.waitForSelector(".console[data-ready]");
    // The session lapses while the console is open: the run is refused (401) and the console
    // says so, with the way back; no token is asked for or kept in the page.
    await page.context().clearCookies();
    await run(page, HOTEL_PROMPT);
    const again = page.getByRole("link", { name: "sign in again" });
    await again.waitFor();
    assert.equal(await page.locator("#token").count(), 0);
    await again.click();
    await page.waitForURL(`${gw.url}/login`);
    await page.fill("#login-token", token);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${gw.url}/`);
    await page.waitForSelector(".console[data-ready]");
    await run(page, HOTEL_PROMPT);
    await waitStatus(page, "waiting for approval");
  });
});
