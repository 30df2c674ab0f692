#!/usr/bin/env node
// driver.js - one headless Chromium page, driven by JSON lines on stdin (testbed/browser.py).
//
// Uses Debian's chromium (CHROMIUM, default /usr/bin/chromium) through playwright-core; never
// downloads a browser. Each request line {"id": N, "cmd": NAME, ...} gets one reply line
// {"id": N, "ok": true, "result": ...} or {"id": N, "ok": false, "error": "..."}.
// Only loopback URLs are opened. Commands:
//   goto {url}                    load a page (waits for the load event)
//   wait_view {}                  LuCI booted and the view replaced its spinner
//   click|fill|select|check {selector[, value]}
//   wait_for {selector[, state]}  state: attached | detached | visible | hidden
//   wait_text {text[, selector]}  the element's innerText contains text
//   wait_gone {text[, selector]}  ... no longer contains it
//   text {selector}               innerText of the first match
//   value {selector}              the current value of an input, select or textarea
//   attrs {selector, name}        the attribute `name` of every match
//   rows {selector}               the cells' innerText of each row (element) matching selector
//   screenshot {path[, full_page]}
//   problems {}                   console errors, page errors and HTTP >= 400 since the last call
//   close {}
// Every command takes an optional timeout (ms).
'use strict';

const readline = require('readline');
const { chromium } = require('playwright-core');

const DEFAULT_TIMEOUT = 60000;  // ms, when a request names none
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/;

// True once LuCI has booted and the view replaced its "Loading view…" spinner.
function luciViewReady() {
	const view = document.getElementById('view');
	if (!window.L || !view || view.querySelector(':scope > .spinning'))
		return false;
	return view.childElementCount > 0;
}

function innerTextOf(selector) {
	const el = document.querySelector(selector);
	return el ? el.innerText : null;
}

function tableRows(selector) {
	return Array.from(document.querySelectorAll(selector)).map(row =>
		Array.from(row.querySelectorAll('th, td')).map(cell => cell.innerText.trim()));
}

const commands = {
	async goto(page, r, timeout) {
		if (!LOOPBACK.test(new URL(r.url).hostname))
			throw new Error('refusing a non-loopback URL: ' + r.url);
		const response = await page.goto(r.url, { timeout, waitUntil: 'load' });
		return response ? response.status() : null;
	},
	async wait_view(page, r, timeout) {
		await page.waitForFunction(luciViewReady, null, { timeout, polling: 100 });
	},
	async click(page, r, timeout) { await page.click(r.selector, { timeout }); },
	async fill(page, r, timeout) { await page.fill(r.selector, r.value, { timeout }); },
	async select(page, r, timeout) { await page.selectOption(r.selector, r.value, { timeout }); },
	async check(page, r, timeout) { await page.check(r.selector, { timeout }); },
	async wait_for(page, r, timeout) {
		await page.waitForSelector(r.selector, { timeout, state: r.state || 'visible' });
	},
	async wait_text(page, r, timeout) {
		await page.waitForFunction(([sel, text]) => {
			const el = document.querySelector(sel);
			return el !== null && el.innerText.includes(text);
		}, [r.selector || 'body', r.text], { timeout, polling: 100 });
	},
	async wait_gone(page, r, timeout) {
		await page.waitForFunction(([sel, text]) => {
			const el = document.querySelector(sel);
			return el === null || !el.innerText.includes(text);
		}, [r.selector || 'body', r.text], { timeout, polling: 100 });
	},
	async text(page, r) { return page.evaluate(innerTextOf, r.selector || 'body'); },
	async value(page, r, timeout) { return page.inputValue(r.selector, { timeout }); },
	async attrs(page, r) {
		return page.evaluate(([sel, name]) =>
			Array.from(document.querySelectorAll(sel)).map(el => el.getAttribute(name)), [r.selector, r.name]);
	},
	async rows(page, r) { return page.evaluate(tableRows, r.selector); },
	async screenshot(page, r, timeout) {
		// animations fast-forwarded to their end: a tab still fading in would look disabled
		await page.screenshot({ path: r.path, fullPage: !!r.full_page, timeout, animations: 'disabled' });
	},
	async problems(page, r, timeout, state) { return state.problems.splice(0); },
};

async function main() {
	const browser = await chromium.launch({
		executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
		headless: true,
		// root (CI) cannot use Chromium's sandbox; /dev/shm may be small in a container
		args: [ '--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu' ],
	});
	const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
	const state = { problems: [] };
	page.on('console', m => {
		if (m.type() === 'error') state.problems.push('console: ' + m.text());
	});
	page.on('pageerror', e => state.problems.push('page error: ' + String(e.stack || e.message).split('\n').slice(0, 4).join(' / ')));
	page.on('response', resp => {
		if (resp.status() >= 400) state.problems.push(`HTTP ${resp.status()} ${resp.url()}`);
	});

	const out = line => process.stdout.write(JSON.stringify(line) + '\n');
	const input = readline.createInterface({ input: process.stdin });
	out({ id: 0, ok: true, result: browser.version() });
	for await (const line of input) {
		let req;
		try { req = JSON.parse(line); } catch (e) { out({ id: null, ok: false, error: 'bad JSON' }); continue; }
		if (req.cmd === 'close') break;
		const handler = commands[req.cmd];
		try {
			if (!handler) throw new Error('unknown command ' + req.cmd);
			const result = await handler(page, req, req.timeout || DEFAULT_TIMEOUT, state);
			out({ id: req.id, ok: true, result: result === undefined ? null : result });
		} catch (e) {
			out({ id: req.id, ok: false, error: String(e && e.message || e) });
		}
	}
	await browser.close();
}

main().catch(e => {
	process.stderr.write('driver: ' + (e && e.stack || e) + '\n');
	process.exit(1);
});
