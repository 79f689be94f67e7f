/* SPDX-License-Identifier: MIT */
/* harness.mjs - a natter per test on free loopback ports, Debian's Chromium, and an nc-style
 * client, for the browser tests (web.test.mjs). */

import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(here, '..', '..');
export const NATTER_BIN = process.env.NATTER_BIN || path.join(REPO, 'build', 'natter');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
/* Where the screenshots go: tests/browser/out/ unless NATTER_SCREENSHOT_DIR says otherwise
 * (NATTER_SCREENSHOT_DIR=docs refreshes docs/web-desktop.png and docs/web-phone.png). */
export const SCREENSHOT_DIR = path.resolve(REPO, process.env.NATTER_SCREENSHOT_DIR ||
                                           path.join('tests', 'browser', 'out'));

/* Every wait below has a deadline; a failing test ends in seconds, never hangs. */
export const TIMEOUT = 10_000;

export function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

/* Polls fn (sync or async) until it returns something truthy; throws what after the deadline. */
export async function until(fn, what, ms = TIMEOUT) {
    const end = Date.now() + ms;
    for (;;) {
        const v = await fn();
        if (v) return v;
        if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
        await sleep(25);
    }
}

/* A port that was free a moment ago: bind port 0, read the port, close. */
function freePort() {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.on('error', reject);
        srv.listen(0, '127.0.0.1', () => {
            const { port } = srv.address();
            srv.close(() => resolve(port));
        });
    });
}

/* True once something accepts on 127.0.0.1:port. */
function canConnect(port) {
    return new Promise((resolve) => {
        const s = net.connect(port, '127.0.0.1');
        s.once('connect', () => {
            s.destroy();
            resolve(true);
        });
        s.once('error', () => resolve(false));
    });
}

/*
 * A natter serving the line chat (tcp://) and the web door (http://) on two loopback ports that
 * stay the same across restart(), with its stderr in a log file (a full pipe would block it).
 */
export class Natter {
    constructor(extraArgs = []) {
        this.extraArgs = extraArgs;
        this.dir = mkdtempSync(path.join(os.tmpdir(), 'natter-browser-'));
        this.logPath = path.join(this.dir, 'natter.log');
        this.proc = null;
    }

    get url() {
        return `http://127.0.0.1:${this.httpPort}/`;
    }

    async start() {
        if (!this.linePort) {
            this.linePort = await freePort();
            this.httpPort = await freePort();
        }
        const args = ['--listen', `tcp://127.0.0.1:${this.linePort}`,
                      '--listen', `http://127.0.0.1:${this.httpPort}`, ...this.extraArgs];
        const log = openSync(this.logPath, 'a');
        this.proc = spawn(NATTER_BIN, args, { stdio: ['ignore', 'ignore', log] });
        closeSync(log);
        const proc = this.proc;
        this.exited = new Promise((resolve) => proc.once('exit', (code, signal) =>
            resolve({ code, signal })));
        this.proc.once('error', () => {});
        await until(async () => {
            if (proc.exitCode !== null) {
                throw new Error(`natter exited at start (${proc.exitCode}):\n${this.log()}`);
            }
            return (await canConnect(this.linePort)) && (await canConnect(this.httpPort));
        }, `natter listening on ${this.linePort} and ${this.httpPort}`);
    }

    /* SIGTERM by PID, then SIGKILL if it has not exited within ms; returns { code, signal }. */
    async stop(ms = 8000) {
        const proc = this.proc;
        if (!proc || proc.exitCode !== null || proc.signalCode !== null) return this.exited;
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), ms);
        const result = await this.exited;
        clearTimeout(timer);
        return result;
    }

    async restart() {
        const result = await this.stop();
        await this.start();
        return result;
    }

    log() {
        try {
            return readFileSync(this.logPath, 'utf8');
        } catch {
            return '';
        }
    }
}

/*
 * A client of the line door as the HOWTO has it (nc): the prompt "Enter your name: ", a name
 * line, then "NAME: TEXT" lines and "*** ... ***" notices (docs/PROTOCOL.md §2, §3).
 */
export class LineClient {
    static async connect(port, name) {
        const c = new LineClient();
        c.sock = net.connect(port, '127.0.0.1');
        c.buf = '';
        c.lines = [];
        c.sock.setEncoding('utf8');
        c.sock.on('data', (d) => {
            c.buf += d;
            let i;
            while ((i = c.buf.indexOf('\n')) >= 0) {
                c.lines.push(c.buf.slice(0, i).replace(/\r$/, ''));
                c.buf = c.buf.slice(i + 1);
            }
        });
        c.sock.on('error', () => {});
        await until(() => c.buf === 'Enter your name: ', 'the name prompt');
        c.buf = ''; /* the prompt has no LF: what comes next starts a line */
        c.send(name);
        await c.expect((l) => l.startsWith(`*** Welcome to lobby, ${name}`), 'the welcome line');
        return c;
    }

    send(line) {
        this.sock.write(line + '\n');
    }

    /* Waits for a line (string: equal; function: true for it) and returns it. Lines before it
     * stay, so two expects may come in either order. */
    async expect(match, what = String(match), ms = TIMEOUT) {
        const test = typeof match === 'function' ? match : (l) => l === match;
        return until(() => this.lines.find(test), `line client: ${what}\n  got: ${
            JSON.stringify(this.lines)}`, ms);
    }

    close() {
        this.sock.destroy();
    }
}

/*
 * A TCP proxy in front of natter's web port, to lose a connection the way a phone going out of
 * range does: cut() drops the browser's side of every connection so far and keeps natter's side
 * open (natter sees nothing until its ping timeout, §8.9, and keeps the name); release() then
 * closes natter's side of those, as that timeout would. What natter sends meanwhile is read and
 * dropped, so its output never stalls.
 */
export class CuttingProxy {
    static async start(targetPort) {
        const p = new CuttingProxy();
        p.live = new Set();
        p.held = new Set();
        p.server = net.createServer((client) => {
            const up = net.connect(targetPort, '127.0.0.1');
            const pair = { client, up };
            p.live.add(pair);
            client.on('error', () => {});
            up.on('error', () => {});
            client.pipe(up);
            up.pipe(client);
            client.on('close', () => {
                if (p.live.delete(pair)) up.destroy();
            });
            up.on('close', () => {
                p.live.delete(pair);
                p.held.delete(pair);
                client.destroy();
            });
        });
        await new Promise((resolve) => p.server.listen(0, '127.0.0.1', resolve));
        p.port = p.server.address().port;
        return p;
    }

    get url() {
        return `http://127.0.0.1:${this.port}/`;
    }

    cut() {
        for (const pair of this.live) {
            this.live.delete(pair);
            this.held.add(pair);
            pair.up.unpipe(pair.client);
            pair.client.unpipe(pair.up);
            pair.up.resume();
            pair.client.destroy();
        }
    }

    release() {
        for (const pair of this.held) pair.up.destroy();
        this.held.clear();
    }

    close() {
        this.release();
        for (const pair of this.live) pair.client.destroy();
        this.server.close();
    }
}

/* Debian's Chromium, headless; as root it needs --no-sandbox (DEPENDENCIES.md §5). */
export async function launchBrowser() {
    const args = process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : [];
    return chromium.launch({ executablePath: CHROMIUM, headless: true, args });
}

/*
 * A fresh browser context (its own cookies and storage: another person) on natter's page (at
 * server.url: a Natter's or a proxy's), registered as name and in #lobby (name null: not yet).
 * Records page errors, console errors (a CSP violation shows up as one) and dialogs (alert())
 * in page.problems, which the tests require to stay empty.
 */
export async function openChat(browser, server, name, viewport = { width: 1280, height: 800 }) {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    page.problems = [];
    page.on('pageerror', (e) => page.problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
        if (m.type() === 'error') page.problems.push(`console error: ${m.text()}`);
    });
    page.on('dialog', (d) => {
        page.problems.push(`dialog: ${d.message()}`);
        d.dismiss();
    });
    await page.goto(server.url);
    if (name) await register(page, name);
    return page;
}

/* Types name into the name box and waits until the page is in #lobby. */
export async function register(page, name) {
    await page.getByLabel('Name', { exact: true }).fill(name);
    await page.getByLabel('Name', { exact: true }).press('Enter');
    await waitForLine(page, 'You are in #lobby');
}

/* The message box. */
export function messageBox(page) {
    return page.getByLabel('Message', { exact: true });
}

/* Types text into the message box and sends it with Enter. */
export async function say(page, text) {
    const box = messageBox(page);
    await box.fill(text);
    await box.press('Enter');
}

/* The log shown (only the shown buffer's log is visible, so role=log finds one). */
export function log(page) {
    return page.getByRole('log');
}

/* Waits until a line of the shown log contains text; returns its locator. */
export async function waitForLine(page, text, ms = TIMEOUT) {
    const line = log(page).locator('.line').filter({ hasText: text }).last();
    await line.waitFor({ state: 'visible', timeout: ms });
    return line;
}

/* Waits until the shown log has a message by nick whose text is exactly text. */
export async function waitForMessage(page, nick, text, ms = TIMEOUT) {
    return until(async () => {
        const lines = await log(page).locator('.line.msg, .line.action').evaluateAll((els) =>
            els.map((e) => ({ nick: e.querySelector('.nick')?.textContent,
                              text: e.querySelector('.text')?.textContent })));
        return lines.find((l) => (l.nick === nick || l.nick === `* ${nick}`) && l.text === text);
    }, `a message from ${nick}: ${JSON.stringify(text)}`, ms);
}

/* The names in the member list, as shown. */
export async function members(page) {
    return page.getByRole('list', { name: 'Members', exact: true }).locator('li')
        .allTextContents();
}

/* Where to save screenshot name: SCREENSHOT_DIR for the pictures docs/ shows (main true), else
 * tests/browser/out/. */
export function screenshotPath(name, main = true) {
    const dir = main ? SCREENSHOT_DIR : path.join(here, 'out');
    mkdirSync(dir, { recursive: true });
    return path.join(dir, name);
}
