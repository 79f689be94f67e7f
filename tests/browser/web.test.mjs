/* SPDX-License-Identifier: MIT */
/* web.test.mjs - natter's web client (web/) in Debian's Chromium against a real natter: what a
 * person sees on the page. Run: node --test tests/browser/ (after make build and npm ci here). */

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
    Natter, LineClient, CuttingProxy, launchBrowser, openChat, register, say, log, messageBox,
    waitForLine, waitForMessage, members, screenshotPath, until, sleep, TIMEOUT,
} from './harness.mjs';

let browser;
before(async () => {
    browser = await launchBrowser();
});
after(async () => {
    await browser?.close();
});

/*
 * Runs fn with a fresh natter (room history on, so a page shows what was said before it came)
 * and stops it by PID afterwards; natter must then exit 0 (a clean shutdown, PROTOCOL.md §4.5).
 * Pages opened through the returned open() are checked for page errors, console errors (CSP
 * violations among them) and dialogs.
 */
async function withNatter(t, fn, args = ['--history', '50']) {
    const natter = new Natter(args);
    await natter.start();
    const pages = [];
    const lineClients = [];
    const env = {
        natter,
        open: async (name, viewport, server = natter) => {
            const page = await openChat(browser, server, name, viewport);
            pages.push(page);
            return page;
        },
        line: async (name) => {
            const c = await LineClient.connect(natter.linePort, name);
            lineClients.push(c);
            return c;
        },
    };
    try {
        await fn(env);
        for (const p of pages) assert.deepEqual(p.problems, [], 'problems on the page');
    } catch (e) {
        t.diagnostic(`natter log (${natter.logPath}):\n${natter.log().slice(-4000)}`);
        throw e;
    } finally {
        for (const c of lineClients) c.close();
        for (const p of pages) await p.context().close();
        const { code, signal } = await natter.stop();
        assert.equal(signal, null, `natter was killed by ${signal}`);
        assert.equal(code, 0, 'natter exit status');
    }
}

test('two pages and an nc client chat in #lobby, each seeing the others', { timeout: 30_000 },
     (t) => withNatter(t, async ({ open, line }) => {
    const alice = await open('alice');
    const bob = await open('bob');
    await waitForLine(alice, '→ bob joined #lobby');
    const carol = await line('carol');
    await carol.expect((l) => l.startsWith('*** Welcome to lobby, carol: 2 other people are'));
    await waitForLine(alice, '→ carol joined #lobby');
    await waitForLine(bob, '→ carol joined #lobby');
    assert.deepEqual((await members(alice)).sort(), ['alice (you)', 'bob', 'carol']);

    await say(alice, 'Hi all, alice here');
    await waitForMessage(alice, 'alice', 'Hi all, alice here'); /* her own line, as sent */
    await waitForMessage(bob, 'alice', 'Hi all, alice here');
    await carol.expect('alice: Hi all, alice here');

    await say(bob, 'bob on the web too');
    await waitForMessage(alice, 'bob', 'bob on the web too');
    await carol.expect('bob: bob on the web too');

    carol.send('and carol with nc');
    await waitForMessage(alice, 'carol', 'and carol with nc');
    await waitForMessage(bob, 'carol', 'and carol with nc');

    await say(alice, '/me waves');
    await waitForMessage(bob, 'alice', 'waves');
    await carol.expect('* alice waves');

    /* A page that comes later gets the room's history (after 366, with the times it was said). */
    const dave = await open('dave');
    await waitForMessage(dave, 'carol', 'and carol with nc');
    await waitForMessage(dave, 'alice', 'Hi all, alice here');

    carol.send('/quit bye now');
    await waitForLine(alice, '← carol left the chat (bye now)');
    assert.deepEqual((await members(alice)).sort(), ['alice (you)', 'bob', 'dave']);
}));

test('a page joins another room and talks in private to another page', { timeout: 30_000 },
     (t) => withNatter(t, async ({ open, line }) => {
    const alice = await open('alice');
    const bob = await open('bob');
    const carol = await line('carol');

    await say(alice, '/join garden');
    await until(async () => (await alice.locator('#buffer-name').textContent()) === '#garden',
                'alice in #garden');
    await waitForLine(alice, 'You are in #garden: nobody else is here.');
    assert.deepEqual(await members(alice), ['alice (you)']);

    /* Bob finds the new room in the list of rooms and joins it with the keyboard. */
    await bob.getByRole('button', { name: 'Refresh the list of rooms' }).click();
    const join = bob.getByRole('button', { name: 'Join #garden, 1 here' });
    await join.focus();
    await bob.keyboard.press('Enter');
    await waitForLine(bob, 'You are in #garden: 1 other person is here (alice).');
    await waitForLine(alice, '→ bob joined #garden');
    await say(alice, 'the roses are out');
    await waitForMessage(bob, 'alice', 'the roses are out');

    /* Lines in a room not shown count as unread. */
    carol.send('anyone in the lobby?');
    const lobbyButton = bob.getByRole('button', { name: '#lobby, 1 unread' });
    await lobbyButton.waitFor({ timeout: TIMEOUT });
    await bob.keyboard.press('Alt+ArrowUp');  /* back to #lobby */
    await until(async () => (await bob.locator('#buffer-name').textContent()) === '#lobby',
                'bob back in #lobby');
    await waitForMessage(bob, 'carol', 'anyone in the lobby?');
    await bob.getByRole('button', { name: '#lobby', exact: true }).waitFor();

    /* /msg opens a conversation; the other page gets it as one, with an unread count. */
    await say(alice, '/msg bob psst, bob');
    await until(async () => (await alice.locator('#buffer-name').textContent()) === 'bob (private)',
                "alice's conversation with bob");
    await waitForMessage(alice, 'alice', 'psst, bob');
    const fromAlice = bob.getByRole('button', { name: 'alice, 1 unread' });
    await fromAlice.click();
    await waitForMessage(bob, 'alice', 'psst, bob');
    await say(bob, 'hello alice, just you and me');
    await waitForMessage(alice, 'bob', 'hello alice, just you and me');
    assert.ok(!carol.lines.some((l) => l.includes('psst')), 'carol saw nothing private');

    /* Slash commands as nc users have them. */
    await say(bob, '/who #lobby');
    await waitForLine(bob, '3 in #lobby:');
    await say(bob, '/topic');
    await waitForLine(bob, '/topic works in a room.');
    await say(bob, '/frobnicate');
    await waitForLine(bob, 'Unknown command: /frobnicate. Type /help for the commands.');
    await say(alice, '/nick alicia');
    await waitForLine(bob, 'alice is now known as alicia');
    await carol.expect('*** alice is now known as alicia ***');

    /* Away (away-notify) shows in the member list; /part leaves the room shown. */
    await alice.getByRole('button', { name: '#garden', exact: true }).click();
    await bob.getByRole('button', { name: '#garden', exact: true }).click();
    await say(bob, '/away out for lunch');
    await waitForLine(bob, 'You have been marked as being away');
    await alice.getByRole('button', { name: 'bob, away: talk in private' }).waitFor();
    await say(bob, '/away');
    await waitForLine(bob, 'You are no longer marked as being away');
    await alice.getByRole('button', { name: 'bob: talk in private' }).waitFor();
    await say(alice, '/part');
    await waitForLine(bob, '← alicia left #garden');
    assert.deepEqual(await members(bob), ['bob (you)']);
    assert.equal(await alice.locator('#buffer-name').textContent(), '#lobby');
}));

test('a page that loses its connection says so, then comes back with its name and rooms',
     { timeout: 30_000 }, (t) => withNatter(t, async ({ natter, open, line }) => {
    const alice = await open('alice');
    await say(alice, '/join garden');
    await waitForLine(alice, 'You are in #garden');

    const banner = alice.getByRole('status').filter({ hasText: 'Reconnecting' });
    const { code } = await natter.stop();
    assert.equal(code, 0);
    await banner.waitFor({ timeout: TIMEOUT });
    await waitForLine(alice, 'Connection lost');
    assert.match(await banner.textContent(), /Connection lost/);

    await natter.start();
    await banner.waitFor({ state: 'hidden', timeout: 20_000 });
    await waitForLine(alice, 'Reconnected as alice.');
    await waitForLine(alice, 'You are in #garden');
    assert.equal(await alice.locator('#my-nick').textContent(), 'alice');
    assert.equal(await alice.locator('#buffer-name').textContent(), '#garden');

    /* The server sees her again: in #lobby for the line users, and her words reach them. */
    const carol = await line('carol');
    carol.send('/who');
    await carol.expect((l) => /^\*\*\* 2 in lobby: .*alice/.test(l), 'alice in /who');
    await alice.getByRole('button', { name: '#lobby', exact: true }).click();
    await say(alice, 'back again');
    await carol.expect('alice: back again');
}));

test('a page whose connection died unseen takes its name back once the server lets it go',
     { timeout: 30_000 }, (t) => withNatter(t, async ({ natter, open, line }) => {
    const proxy = await CuttingProxy.start(natter.httpPort);
    t.after(() => proxy.close());
    const alice = await open('alice', undefined, proxy);
    const carol = await line('carol');
    carol.send('said before the drop');
    await waitForMessage(alice, 'carol', 'said before the drop');

    /* The page loses its connection; natter still holds the old one, and the name with it. */
    proxy.cut();
    const status = alice.getByRole('status');
    await status.filter({ hasText: 'Waiting for the server to free the name alice' })
        .waitFor({ timeout: TIMEOUT });
    await sleep(500);
    assert.ok(!carol.lines.some((l) => l.includes('alice has left')), 'natter saw no leave yet');

    /* natter lets the dead connection go: the page gets its name back by itself. */
    proxy.release();
    await carol.expect('*** alice has left the chat ***');
    await status.waitFor({ state: 'hidden', timeout: 15_000 });
    await waitForLine(alice, 'Reconnected as alice.');
    await carol.expect('*** alice has joined the chat ***');
    carol.send('welcome back');
    await waitForMessage(alice, 'carol', 'welcome back');
    /* The room's history came again on the rejoin (§8.4); the page shows each line once. */
    assert.equal(await log(alice).locator('.line').filter({ hasText: 'said before the drop' })
        .count(), 1);
    await say(alice, 'thanks');
    await carol.expect('alice: thanks');
}));

test('keyboard only: name, message, a conversation from the member list', { timeout: 30_000 },
     (t) => withNatter(t, async ({ open }) => {
    const bob = await open('bob');
    const alice = await open(null);
    /* The name box has the focus when the page opens; after joining, the message box has it. */
    await alice.keyboard.type('alice');
    await alice.keyboard.press('Enter');
    await waitForLine(alice, 'You are in #lobby');
    await alice.keyboard.type('typed, never clicked');
    await alice.keyboard.press('Enter');
    await waitForMessage(bob, 'alice', 'typed, never clicked');
    /* Message box, Send, then the member list: bob's button opens a conversation with him. */
    await alice.keyboard.press('Tab');
    await alice.keyboard.press('Tab');
    assert.equal(await alice.evaluate(() => document.activeElement.dataset.nick), 'bob');
    await alice.keyboard.press('Enter');
    await alice.keyboard.type('just between us');
    await alice.keyboard.press('Enter');
    await bob.getByRole('button', { name: 'alice, 1 unread' }).press('Enter');
    await waitForMessage(bob, 'alice', 'just between us');
    /* Up recalls what was sent. */
    await alice.keyboard.press('ArrowUp');
    assert.equal(await messageBox(alice).inputValue(), 'just between us');
}));

test('markup and scripts from a sender arrive as text, links as safe links',
     { timeout: 30_000 }, (t) => withNatter(t, async ({ open }) => {
    const alice = await open('alice');
    const bob = await open('bob');
    const nasty = ['<script>alert(1)</script>', '<b>bold</b>', '<img src=x onerror=alert(2)>'];
    for (const text of nasty) await say(alice, text);
    for (const text of nasty) await waitForMessage(bob, 'alice', text);
    const inLog = log(bob);
    assert.equal(await inLog.locator('b, script, img').count(), 0, 'no element from a message');
    assert.equal(await bob.locator('body script:not([src])').count(), 0, 'no inline script');

    const withLinks = 'see https://example.org/a?b=1&c=2, or (http://example.com/x)';
    await say(alice, withLinks);
    await waitForMessage(bob, 'alice', withLinks);
    const links = await inLog.locator('a').evaluateAll((as) =>
        as.map((a) => [a.textContent, a.getAttribute('href'), a.target, a.rel]));
    assert.deepEqual(links, [
        ['https://example.org/a?b=1&c=2', 'https://example.org/a?b=1&c=2', '_blank',
         'noopener noreferrer'],
        ['http://example.com/x', 'http://example.com/x', '_blank', 'noopener noreferrer'],
    ]);
    await say(alice, 'javascript:alert(3) is not a link');
    await waitForMessage(bob, 'alice', 'javascript:alert(3) is not a link');
    assert.equal(await inLog.locator('a').count(), 2);
}));

test('the name box explains a taken (433) and an invalid (432) name; /quit brings it back',
     { timeout: 30_000 }, (t) => withNatter(t, async ({ open, line }) => {
    await open('alice');
    const page = await open(null);
    const name = page.getByLabel('Name', { exact: true });
    const why = page.getByRole('alert');
    await name.fill('ALICE');
    await name.press('Enter');
    await until(async () => (await why.textContent()).includes('Nickname is already in use'),
                'the 433 text');
    await name.fill('no.dots');
    await name.press('Enter');
    await until(async () => (await why.textContent()).includes(
        "Name cannot contain ',', '*', '?', '.', '!', '@' or ':'."), 'the 432 text');
    await name.fill('#hash');
    await name.press('Enter');
    await until(async () => (await why.textContent()).includes(
        "Name cannot start with '/', '#', '~', '&', '%', '+' or '-'."), 'the 432 text');
    await register(page, 'Σοφία');
    assert.equal(await page.locator('#my-nick').textContent(), 'Σοφία');

    /* /quit leaves for good (no reconnect) and brings the name box back. */
    const carol = await line('carol');
    await say(page, '/quit see you');
    await carol.expect('*** Σοφία has left the chat (see you) ***');
    await until(async () => (await why.textContent()) === 'You left the chat.', 'the name box');
    assert.equal(await name.inputValue(), 'Σοφία');
    assert.ok(await messageBox(page).isHidden());
}));

test('screenshots: desktop 1280x800 and phone 390x844, light and dark',
     { timeout: 30_000 }, (t) => withNatter(t, async ({ open, line }) => {
    const alice = await open('alice', { width: 1280, height: 800 });
    const bob = await open('bob', { width: 390, height: 844 });
    const carol = await line('carol');
    await say(alice, '/topic Coffee at 10, standup at 10:15');
    const morning = 'Morning! Anyone tried the new build? https://example.org/natter/releases';
    await say(alice, morning);
    await waitForMessage(bob, 'alice', morning);
    await say(bob, 'Yes, the web page works on my phone, too');
    await waitForMessage(alice, 'bob', 'Yes, the web page works on my phone, too');
    carol.send('I am on nc, and I see you both');
    await say(alice, '/me pours coffee');
    await say(alice, '/join garden');
    await waitForLine(alice, 'You are in #garden');
    await alice.getByRole('button', { name: '#lobby', exact: true }).click();
    await say(bob, '/msg alice coffee first?');
    await bob.keyboard.press('Alt+ArrowUp'); /* from the conversation back to #lobby */
    await say(bob, 'alice: when is the standup?');
    await waitForMessage(alice, 'bob', 'alice: when is the standup?');
    await waitForMessage(bob, 'alice', 'pours coffee');
    await messageBox(alice).fill('At 10:15, see the topic');
    await alice.screenshot({ path: screenshotPath('web-desktop.png') });

    /* The phone: one column, nothing wider than the screen, the message box on screen. */
    const overflow = await bob.evaluate(() =>
        document.scrollingElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the phone page is ${overflow}px too wide`);
    const box = await messageBox(bob).boundingBox();
    assert.ok(box && box.y + box.height <= 844, 'the message box is on the phone screen');
    await bob.screenshot({ path: screenshotPath('web-phone.png') });

    /* The rooms drawer opens from its button, and Escape closes it again (a look at it goes to
     * tests/browser/out/, as do the dark ones). */
    await bob.getByRole('button', { name: /^Rooms/ }).click();
    await bob.getByRole('button', { name: '#lobby', exact: true }).waitFor();
    await until(async () => (await bob.locator('#sidebar').boundingBox())?.x >= 0,
                'the drawer slid in');
    await bob.screenshot({ path: screenshotPath('web-phone-rooms.png', false) });
    await bob.keyboard.press('Escape');
    await bob.getByRole('button', { name: '#lobby', exact: true }).waitFor({ state: 'hidden' });

    /* Dark mode (prefers-color-scheme). */
    await alice.emulateMedia({ colorScheme: 'dark' });
    await alice.screenshot({ path: screenshotPath('web-desktop-dark.png', false) });
    await bob.emulateMedia({ colorScheme: 'dark' });
    await bob.screenshot({ path: screenshotPath('web-phone-dark.png', false) });
}));
