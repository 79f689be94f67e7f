/* SPDX-License-Identifier: MIT */
/* view.js - DOM building for chat lines: text as text, links as links, times; no state. */

/*
 * Everything a person typed reaches the page through textContent or a text node, never through
 * innerHTML: "<b>bold</b>" and "<script>" arrive as the characters they are. The page's
 * Content-Security-Policy (script-src 'self', style-src 'self') would block an injected script or
 * inline style anyway; this is the first line of defence, the policy the second.
 */

/* Creates an element with a class (optional) and text content (optional). */
export function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) e.textContent = text;
    return e;
}

/* http and https URLs; what comes after is cut at the first whitespace or angle bracket, and
 * punctuation that usually ends a sentence is given back to the text below. */
const URL_RE = /\bhttps?:\/\/[^\s<>"]+/gi;

/* Drops trailing punctuation from a URL match, and a closing bracket that has no opening one in
 * the URL ("(see https://x.org/a)" links https://x.org/a). */
function trimUrl(url) {
    for (;;) {
        const last = url.slice(-1);
        if ('.,;:!?\'"'.includes(last)) {
            url = url.slice(0, -1);
        } else if (last === ')' && url.split('(').length <= url.split(')').length - 1) {
            url = url.slice(0, -1);
        } else if (last === ']' && url.split('[').length <= url.split(']').length - 1) {
            url = url.slice(0, -1);
        } else {
            return url;
        }
    }
}

/*
 * Appends text to parent as text nodes, with every http(s) URL in it as a link that opens in a
 * new tab without telling the target where it came from (rel="noopener noreferrer"). Only what
 * the URL parser accepts as http: or https: becomes a link.
 */
export function appendLinkified(parent, text) {
    let at = 0;
    for (const m of text.matchAll(URL_RE)) {
        const url = trimUrl(m[0]);
        let href = null;
        try {
            const u = new URL(url);
            if (u.protocol === 'http:' || u.protocol === 'https:') href = u.href;
        } catch {
            href = null;
        }
        if (!href) continue;
        if (m.index > at) parent.append(document.createTextNode(text.slice(at, m.index)));
        const a = el('a', null, url);
        a.href = href;
        a.target = '_blank';
        a.rel = 'noopener noreferrer';
        parent.append(a);
        at = m.index + url.length;
    }
    if (at < text.length) parent.append(document.createTextNode(text.slice(at)));
}

const pad = (n) => String(n).padStart(2, '0');

/* A <time> for date: HH:MM in local time, the full date and time in its title and datetime. */
export function timeElement(date) {
    const t = el('time', 'ts', `${pad(date.getHours())}:${pad(date.getMinutes())}`);
    t.dateTime = date.toISOString();
    t.title = date.toLocaleString();
    return t;
}

/* One of eight colour classes for a nick, the same for a nick on every page (style.css gives
 * each a colour readable in light and dark mode). */
export function nickClass(key) {
    let h = 0;
    for (const ch of key) h = (h * 31 + ch.codePointAt(0)) >>> 0;
    return `nick-c${h % 8}`;
}

/*
 * Builds one chat line:
 *   kind 'msg'    <time> <nick> text
 *   kind 'action' <time> * nick text
 *   kind 'notice' <time> -nick- text
 *   kind 'event'  <time> text   (joins, leaves, renames, topics)
 *   kind 'info'   <time> text   (server replies, the page's own messages)
 *   kind 'error'  <time> text
 * opts: { nick, nickKey, self, mention, date }. The text of 'msg', 'action' and 'notice' lines is
 * linkified; the others are the page's own words around names and are kept as plain text.
 */
export function lineElement(kind, text, opts = {}) {
    const line = el('div', `line ${kind}`);
    if (opts.self) line.classList.add('self');
    if (opts.mention) line.classList.add('mention');
    line.append(timeElement(opts.date || new Date()));
    const body = el('span', 'body');
    if (kind === 'msg' || kind === 'action' || kind === 'notice') {
        const nick = el('span', `nick ${nickClass(opts.nickKey || '')}`);
        nick.textContent = kind === 'action' ? `* ${opts.nick}` :
                           kind === 'notice' ? `-${opts.nick}-` : opts.nick;
        body.append(nick, ' ');
        const t = el('span', 'text');
        appendLinkified(t, text);
        body.append(t);
    } else {
        body.append(el('span', 'text', text));
    }
    line.append(body);
    return line;
}
