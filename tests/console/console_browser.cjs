// console_browser.cjs - test_console's browser half: `txq console` in
// headless Chromium (Debian's, through playwright-core), run by
// console_test.sh with CONSOLE_* in the environment.
//
// A bad password is refused; the operator logs in, sees the queues (a
// screenshot), opens the dead letter (a screenshot), whose <script> body
// and error are shown as text, fixes the body, requeues it and watches
// the worker process it on the queue page (a screenshot); the role
// without rights sees no queues and its purge, posted from the page, is
// refused. No script the page did not ship may run: a dialog fails it.
'use strict';

const { chromium } = require('playwright-core');
const path = require('path');

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const base = env('CONSOLE_URL');
const shots = env('CONSOLE_SHOTS');
const deadId = env('CONSOLE_DEAD_ID');

function ok(cond, what) {
  if (!cond) throw new Error(`FAIL: ${what}`);
  console.log(`console_browser: ok: ${what}`);
}

async function login(page, role, password) {
  await page.goto(`${base}/`);
  ok(new URL(page.url()).pathname === '/login', 'no session: the login page');
  await page.fill('input[name=role]', role);
  await page.fill('input[name=password]', password);
  await Promise.all([page.waitForLoadState('load'), page.click('form.login button')]);
}

async function stat(page, label) {
  return page.evaluate((l) => {
    for (const d of document.querySelectorAll('dl.stats div')) {
      if (d.querySelector('dt').textContent === l) return d.querySelector('dd').textContent;
    }
    return null;
  }, label);
}

(async () => {
  const browser = await chromium.launch({
    executablePath: env('CHROMIUM'),
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update',
      '--disable-sync'],
  });
  const dialogs = [];
  const errors = [];
  try {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await ctx.newPage();
    page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
    page.on('pageerror', (e) => errors.push(String(e)));

    // A bad password.
    await login(page, env('CONSOLE_OP'), 'not-the-password');
    ok(new URL(page.url()).pathname === '/login' &&
       (await page.textContent('.flash.error')).includes('login failed'),
       'a bad password is refused');

    // The operator: the queues.
    await login(page, env('CONSOLE_OP'), env('CONSOLE_OP_PW'));
    ok(new URL(page.url()).pathname === '/', 'the operator is logged in');
    const row = page.locator('table.queues tr', { hasText: 'orders' });
    ok((await row.locator('td').nth(6).textContent()) === '1', 'orders shows 1 dead letter');
    // A refresh (every 3 s) fills in the rates.
    await page.waitForFunction(() => {
      const t = document.querySelector('#queues table tbody tr td:nth-child(8)');
      return t && !t.classList.contains('dim');
    }, null, { timeout: 10000 });
    ok(true, 'the table refreshed itself with rates');
    await page.screenshot({ path: path.join(shots, 'queues.png'), fullPage: true });

    // The queue, then its dead letter.
    await page.click('table.queues a:text-is("orders")');
    ok((await page.textContent('h1')) === 'orders', 'the queue page');
    await page.click(`table.dead a:text-is("${deadId}")`);
    ok((await page.textContent('h1')) === `Dead letter ${deadId}`, 'the dead letter page');
    const body = await page.inputValue('textarea[name=body]');
    ok(body.includes("<script>alert('body')</script>"), 'its <script> body is text in the editor');
    ok((await page.textContent('table.errors')).includes('<script>alert("err")</script>'),
      'its error history shows the <script> error as text');
    ok((await page.evaluate(() => document.scripts.length)) === 1,
      'no script element but the console\'s own');
    await page.screenshot({ path: path.join(shots, 'dead-letter.png'), fullPage: true });

    // Fix the body, save, requeue.
    const fixed = body.replace('"n":7', '"n":7,"fixed":true');
    ok(fixed !== body, 'the body was edited');
    await page.fill('textarea[name=body]', fixed);
    await Promise.all([page.waitForLoadState('load'), page.click('form.edit button')]);
    ok((await page.textContent('.flash')).includes('saved'), 'the edit is saved');
    ok((await page.inputValue('textarea[name=body]')) === fixed, 'the page shows the new body');
    await Promise.all([page.waitForLoadState('load'), page.click('button:text-is("Requeue")')]);
    ok(new URL(page.url()).pathname === '/queue' &&
       (await page.textContent('.flash')).includes('requeued'), 'requeued, back on the queue page');

    // The worker takes it: the queue page's figures refresh by themselves.
    await page.waitForFunction(() => {
      const v = {};
      for (const d of document.querySelectorAll('dl.stats div')) {
        v[d.querySelector('dt').textContent] = d.querySelector('dd').textContent;
      }
      return v['Dead letters'] === '0' && v.Depth === '0' && Number(v.Acked) >= 1;
    }, null, { timeout: 20000 });
    ok((await stat(page, 'Acked')) === '1', 'the queue page shows it processed (acked 1, no dead letters)');
    ok((await page.textContent('main')).includes('None.'), 'no dead letters listed');
    await page.screenshot({ path: path.join(shots, 'queue-after.png'), fullPage: true });
    await page.click('header nav a:text-is("Alerts")');
    ok((await page.textContent('table.alerts')).includes('<script>alert("err")</script>'),
      'the alert of the dead letter, escaped');

    // Log out; the role without rights.
    await Promise.all([page.waitForLoadState('load'), page.click('button:text-is("Log out")')]);
    ok(new URL(page.url()).pathname === '/login', 'logged out');
    await login(page, env('CONSOLE_NOBODY'), env('CONSOLE_NOBODY_PW'));
    ok((await page.textContent('#queues')).includes('may see no queues'),
      'the role without rights sees no queues');
    await page.goto(`${base}/queue?name=emails`);
    await page.fill('form[action="/action/purge"] input[name=reason]', 'not mine');
    const [resp] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/action/purge')),
      page.click('form[action="/action/purge"] button'),
    ]);
    ok(resp.status() === 403 && (await page.textContent('main')).includes('permission denied'),
      'its purge is refused (403, permission denied)');
    await page.screenshot({ path: path.join(shots, 'refused.png'), fullPage: true });

    ok(dialogs.length === 0, `no script of a message ran (dialogs: ${JSON.stringify(dialogs)})`);
    ok(errors.length === 0, `no script errors (${JSON.stringify(errors)})`);
    for (const f of ['queues.png', 'dead-letter.png', 'queue-after.png', 'refused.png']) {
      console.log(`console_browser: screenshot ${path.join(shots, f)}`);
    }
  } finally {
    await browser.close();
  }
})().catch((e) => {
  console.error(`console_browser: ${e.stack || e}`);
  process.exit(1);
});
