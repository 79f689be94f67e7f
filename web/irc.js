/* SPDX-License-Identifier: MIT */
/* irc.js - one IRC message parsed and serialized (RFC 1459/2812, IRCv3 message-tags); pure. */

/*
 * The IRC door (docs/PROTOCOL.md §8) takes a line of at most 510 bytes without tags and CR LF
 * (§8.9); a longer one gets 417 and is dropped (app.js cuts long texts with splitText). The
 * WebSocket carries one line per text message (§9.3), so nothing here deals with CR LF.
 */

const TAG_UNESCAPES = { ':': ';', s: ' ', '\\': '\\', r: '\r', n: '\n' };

/* Undoes the message-tags value escaping: "\:" is ';', "\s" a space, "\\" a backslash, "\r" and
 * "\n" CR and LF; a backslash before anything else is dropped, as the spec says. */
function unescapeTag(value) {
    return value.replace(/\\(.?)/g, (_, c) => TAG_UNESCAPES[c] ?? c);
}

/*
 * Parses one line from the server into { tags, source, nick, command, params }: tags is an
 * object of unescaped values ('' for a tag without one), source the prefix without ':' (''
 * without one), nick the part of source before '!' (the server's name 'natter' for its own
 * replies), command in upper case, params the middle parameters and then the trailing one.
 * Returns null for a line with no command (the server never sends one; a bridge might).
 */
export function parse(line) {
    let rest = line;
    const tags = {};
    if (rest.startsWith('@')) {
        const sp = rest.indexOf(' ');
        const section = sp < 0 ? rest.slice(1) : rest.slice(1, sp);
        rest = sp < 0 ? '' : rest.slice(sp + 1);
        for (const tag of section.split(';')) {
            if (tag === '') continue;
            const eq = tag.indexOf('=');
            if (eq < 0) tags[tag] = '';
            else tags[tag.slice(0, eq)] = unescapeTag(tag.slice(eq + 1));
        }
    }
    rest = rest.replace(/^ +/, '');
    let source = '';
    if (rest.startsWith(':')) {
        const sp = rest.indexOf(' ');
        source = sp < 0 ? rest.slice(1) : rest.slice(1, sp);
        rest = sp < 0 ? '' : rest.slice(sp + 1).replace(/^ +/, '');
    }
    const params = [];
    let command = '';
    while (rest !== '') {
        if (command !== '' && rest.startsWith(':')) {
            params.push(rest.slice(1));
            break;
        }
        const sp = rest.indexOf(' ');
        const word = sp < 0 ? rest : rest.slice(0, sp);
        rest = sp < 0 ? '' : rest.slice(sp + 1).replace(/^ +/, '');
        if (command === '') command = word.toUpperCase();
        else params.push(word);
    }
    if (command === '') return null;
    const bang = source.indexOf('!');
    const nick = bang < 0 ? source : source.slice(0, bang);
    return { tags, source, nick, command, params };
}

/*
 * Builds one line from a command and its parameters. Every parameter but the last must be a
 * non-empty word without spaces and not start with ':' (the callers pass nicks and channel names,
 * which the server's rules keep that way); the last is sent as the trailing parameter (after
 * " :") when it is empty, holds a space or starts with ':', so a text always arrives whole. CR,
 * LF and NUL are removed from every parameter: a user's text can never start a second line.
 */
export function serialize(command, ...params) {
    const clean = params.map((p) => String(p).replace(/[\r\n\0]/g, ''));
    let line = command;
    clean.forEach((p, i) => {
        const last = i === clean.length - 1;
        if (last && (p === '' || p.includes(' ') || p.startsWith(':'))) line += ' :' + p;
        else line += ' ' + p;
    });
    return line;
}

/* The bytes a string takes in UTF-8. */
export function utf8Length(s) {
    return new TextEncoder().encode(s).length;
}

/*
 * Cuts text into pieces of at most maxBytes bytes of UTF-8 each, at a space when there is one in
 * the second half of a piece, else at a character boundary (never inside a surrogate pair), so
 * that a long message becomes several PRIVMSGs in order instead of a 417. Returns [text] when it
 * fits; maxBytes must be at least 4.
 */
export function splitText(text, maxBytes) {
    const pieces = [];
    let rest = text;
    while (utf8Length(rest) > maxBytes) {
        let bytes = 0;
        let cut = 0;
        for (const ch of rest) {
            const n = utf8Length(ch);
            if (bytes + n > maxBytes) break;
            bytes += n;
            cut += ch.length;
        }
        const space = rest.lastIndexOf(' ', cut);
        if (space > cut / 2) cut = space;
        pieces.push(rest.slice(0, cut));
        rest = rest.slice(cut).replace(/^ /, '');
    }
    pieces.push(rest);
    return pieces;
}

/* The text of a CTCP ACTION ("\x01ACTION waves\x01" is "waves"), or null for any other text. The
 * closing \x01 is optional, as some clients leave it out. */
export function actionText(text) {
    const m = /^\x01ACTION(?: (.*?))?\x01?$/s.exec(text);
    return m ? (m[1] ?? '') : null;
}

/* The PRIVMSG text that carries the action /me TEXT. */
export function action(text) {
    return `\x01ACTION ${text}\x01`;
}

/*
 * The key under which the page files a nick or channel. The server compares names with Unicode
 * simple case folding (§8.1) and advertises CASEMAPPING=ascii only because classic clients cannot
 * fold Unicode; toLowerCase() is close enough to file "Σοφία" and "σοφία" together, and the
 * server stays the authority on collisions (it answers 433).
 */
export function fold(name) {
    return name.toLowerCase();
}

/* True for a channel name: the server's only channel type is '#' (CHANTYPES=#). */
export function isChannel(name) {
    return name.startsWith('#');
}
