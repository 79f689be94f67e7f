/* SPDX-License-Identifier: MIT */
/* app.js - the browser client: rooms, conversations and members kept from IRC, and the page. */

import { fold, isChannel, actionText, action, serialize, splitText, utf8Length } from './irc.js';
import { Connection } from './connection.js';
import { runInput } from './commands.js';
import { el, lineElement } from './view.js';

/*
 * The page is one IRC client of natter's IRC door (docs/PROTOCOL.md §8) over a WebSocket: every
 * text message is one IRC line. A "buffer" is what the page shows in the middle: a room (an IRC
 * channel), a private conversation (a query, named after the other person), or the status buffer
 * for when one is in no room. Each buffer keeps its own log element, so switching keeps the
 * lines and the scroll position, and only the shown one is in the accessibility tree.
 */

const LOBBY = '#lobby';
const MAX_LINES = 1000;   /* per buffer; older lines leave the page */
const LIST_SECONDS = 60;  /* how often the room list refreshes while the page is visible */

const $ = (id) => document.getElementById(id);
const ui = {
    login: $('login'), loginForm: $('login-form'), nameInput: $('name-input'),
    loginError: $('login-error'), loginButton: $('login-button'),
    chat: $('chat'), bufferName: $('buffer-name'), bufferTopic: $('buffer-topic'),
    banner: $('banner'), bannerText: $('banner-text'), retry: $('retry-button'),
    sidebar: $('sidebar'), roomList: $('room-list'), queryList: $('query-list'),
    noQueries: $('no-queries'), otherRooms: $('other-rooms'), noOtherRooms: $('no-other-rooms'),
    refreshRooms: $('refresh-rooms'), joinForm: $('join-form'), joinInput: $('join-input'),
    myNick: $('my-nick'), logs: $('logs'), sendForm: $('send-form'),
    messageInput: $('message-input'), membersPanel: $('members-panel'),
    membersHeading: $('members-heading'), members: $('members'),
    toggleRooms: $('toggle-rooms'), toggleMembers: $('toggle-members'),
    roomsBadge: $('rooms-badge'), scrim: $('scrim'),
};

/* Below these widths the room list and the member list are drawers (style.css). */
const roomsDrawer = window.matchMedia('(max-width: 40rem)');
const membersDrawer = window.matchMedia('(max-width: 64rem)');

/* One room, conversation or the status buffer, with its log element. */
class Buffer {
    constructor(kind, name) {
        this.kind = kind;          /* 'channel', 'query' or 'status' */
        this.name = name;          /* as the server spells it */
        this.key = kind === 'status' ? '*' : fold(name);
        this.members = new Map();  /* channel: fold(nick) -> { nick, op, away } */
        this.names = null;         /* the 353 names being collected until 366 */
        this.joining = false;      /* our JOIN came, its 366 not yet */
        this.joined = false;
        this.topic = '';
        this.count = null;         /* members per the last LIST, for rooms we are not in */
        this.unread = 0;
        this.mentions = 0;         /* unread lines that name us, and private ones */
        /* "time|nick|text" of the lines that had a server time: after a reconnect the server
         * replays the room's history (§8.4) and what the page already shows is skipped. */
        this.seen = new Set();
        this.stick = true;         /* the log was scrolled to the bottom: keep it there */
        this.log = el('div', 'log');
        this.log.setAttribute('role', 'log');
        this.log.tabIndex = 0;
        this.log.hidden = true;
        this.log.addEventListener('scroll', () => {
            if (!this.log.hidden) this.stick = atBottom(this.log);
        });
        this.label();
        ui.logs.append(this.log);
    }

    label() {
        this.log.setAttribute('aria-label', this.kind === 'status' ? 'Messages from natter' :
                              `Messages in ${this.name}`);
    }

    rename(name) {
        this.name = name;
        this.key = fold(name);
        this.label();
    }
}

const state = {
    conn: null,
    nick: '',
    inChat: false,              /* registered at least once since the name box */
    status: null,               /* the status buffer */
    buffers: new Map(),         /* key -> Buffer, rooms and conversations in the order opened */
    active: null,
    rooms: [],                  /* the last LIST: { name, count, topic } */
    listing: null,              /* a LIST being collected */
    listShow: 0,                /* LIST replies to print (the person typed /rooms) */
    whoRows: [],                /* 352 lines until 315 */
    pendingSwitch: new Set(),   /* channels to show once our JOIN comes back */
    rejoin: [],                 /* channel names to join again after a reconnect */
    dropped: false,             /* the connection dropped and has not come back yet */
    welcome: false,             /* the welcome line waits for the lobby */
    sent: [],                   /* what was typed, for Up and Down in the message box */
    sentAt: 0,
    listTimer: 0,
};

function atBottom(log) {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 40;
}

function isMe(nick) {
    return fold(nick) === fold(state.nick);
}

function dateOf(msg) {
    const t = msg.tags.time ? new Date(msg.tags.time) : null;
    return t && !Number.isNaN(t.getTime()) ? t : new Date();
}

/* True when text names us as a word ("alice: hi", "hi Alice!"), not as part of one. */
function mentionsMe(text) {
    if (!state.nick) return false;
    const n = state.nick.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    return new RegExp(`(^|[^\\p{L}\\p{N}_])${n}($|[^\\p{L}\\p{N}_])`, 'iu').test(text);
}

/* ---- Buffers ---- */

function findBuffer(name) {
    return state.buffers.get(fold(name)) || null;
}

/* The buffer for a channel or a nick, created (and listed) when create is true. */
function getBuffer(kind, name, create) {
    let buf = findBuffer(name);
    if (!buf && create) {
        buf = new Buffer(kind, name);
        state.buffers.set(buf.key, buf);
        renderLists();
    }
    return buf;
}

function removeBuffer(buf) {
    state.buffers.delete(buf.key);
    buf.log.remove();
    if (state.active === buf) {
        const next = [...state.buffers.values()].find((b) => b.kind === 'channel') ||
                     state.buffers.values().next().value || state.status;
        state.active = null;
        activate(next);
    }
    renderLists();
}

/* The buffers in the order the side panel lists them: rooms, then conversations. */
function orderedBuffers() {
    const all = [...state.buffers.values()];
    return [...all.filter((b) => b.kind === 'channel'), ...all.filter((b) => b.kind === 'query')];
}

function activate(buf) {
    if (state.active && state.active !== buf) state.active.log.hidden = true;
    state.active = buf;
    buf.log.hidden = false;
    if (buf.stick) buf.log.scrollTop = buf.log.scrollHeight;
    buf.unread = 0;
    buf.mentions = 0;
    renderHeader();
    renderLists();
    renderMembers();
    closePanels(false);
}

/*
 * Appends a line to buf (see view.js lineElement for kind and opts). opts.counts marks a line
 * that counts as unread when buf is not the one shown (or the page is hidden).
 */
function addLine(buf, kind, text, opts = {}) {
    const line = lineElement(kind, text, opts);
    const stick = buf.log.hidden ? buf.stick : atBottom(buf.log);
    buf.log.append(line);
    while (buf.log.childElementCount > MAX_LINES) buf.log.firstElementChild.remove();
    if (stick) {
        buf.log.scrollTop = buf.log.scrollHeight;
        buf.stick = true;
    }
    if (opts.counts && (buf !== state.active || document.hidden)) {
        buf.unread++;
        if (opts.mention || buf.kind === 'query') buf.mentions++;
        renderLists();
    }
}

/* A line of the page's own or of a server reply, in the buffer shown. */
function info(text) {
    addLine(state.active, 'info', text);
}

function error(text) {
    addLine(state.active, 'error', text);
}

/* ---- Rendering ---- */

/*
 * Makes ul hold one li per item, in order, reusing the li of a key that was there before, so
 * that a list refreshing under a keyboard user's focus keeps the focused button. Each item is
 * { key, make() -> li, update(li) }.
 */
function reconcile(ul, items) {
    const old = new Map([...ul.children].map((li) => [li.dataset.key, li]));
    items.forEach((item, i) => {
        let li = old.get(item.key);
        if (li) old.delete(item.key);
        else {
            li = item.make();
            li.dataset.key = item.key;
        }
        item.update(li);
        if (ul.children[i] !== li) ul.insertBefore(li, ul.children[i] || null);
    });
    for (const li of old.values()) li.remove();
}

function bufferItem(buf) {
    return {
        key: buf.key,
        make: () => {
            const li = el('li');
            const b = el('button');
            b.type = 'button';
            b.append(el('span', 'name'), el('span', 'badge'));
            b.addEventListener('click', () => {
                const target = state.buffers.get(li.dataset.key);
                if (target) activate(target);
                ui.messageInput.focus();
            });
            li.append(b);
            return li;
        },
        update: (li) => {
            li.dataset.key = buf.key;
            const b = li.firstElementChild;
            const [name, badge] = b.children;
            name.textContent = buf.name;
            badge.textContent = String(buf.unread);
            badge.hidden = buf.unread === 0;
            badge.classList.toggle('mentioned', buf.mentions > 0);
            b.setAttribute('aria-current', String(buf === state.active));
            b.setAttribute('aria-label', buf.name + (buf.unread ? `, ${buf.unread} unread` : ''));
            b.classList.toggle('offline', buf.kind === 'channel' && !buf.joined);
        },
    };
}

function renderLists() {
    const bufs = orderedBuffers();
    reconcile(ui.roomList, bufs.filter((b) => b.kind === 'channel').map(bufferItem));
    const queries = bufs.filter((b) => b.kind === 'query');
    reconcile(ui.queryList, queries.map(bufferItem));
    ui.noQueries.hidden = queries.length > 0;

    const others = state.rooms.filter((r) => !findBuffer(r.name))
        .sort((a, b) => fold(a.name).localeCompare(fold(b.name)));
    reconcile(ui.otherRooms, others.map((r) => ({
        key: fold(r.name),
        make: () => {
            const li = el('li');
            const b = el('button');
            b.type = 'button';
            b.append(el('span', 'name'), el('span', 'count'));
            b.addEventListener('click', () => {
                ctx.join(b.dataset.room);
                ui.messageInput.focus();
            });
            li.append(b);
            return li;
        },
        update: (li) => {
            const b = li.firstElementChild;
            b.dataset.room = r.name;
            b.title = r.topic || `Join ${r.name}`;
            b.firstElementChild.textContent = r.name;
            b.lastElementChild.textContent = String(r.count);
            b.setAttribute('aria-label', `Join ${r.name}, ${r.count} here`);
        },
    })));
    ui.noOtherRooms.hidden = others.length > 0;

    /* Unread elsewhere, for the phone's Rooms button and the tab's title. */
    let unread = 0;
    let mentions = 0;
    for (const b of bufs) {
        unread += b.unread;
        mentions += b.mentions;
    }
    ui.roomsBadge.textContent = String(unread);
    ui.roomsBadge.hidden = unread === 0;
    ui.roomsBadge.classList.toggle('mentioned', mentions > 0);
    ui.toggleRooms.setAttribute('aria-label', unread ? `Rooms, ${unread} unread` : 'Rooms');
    const where = state.active && state.inChat ? `${state.active.name} · ` : '';
    document.title = `${unread ? `(${unread}) ` : ''}${where}natter`;
}

function renderHeader() {
    const buf = state.active;
    ui.bufferName.textContent = buf.kind === 'query' ? `${buf.name} (private)` : buf.name;
    ui.bufferTopic.textContent = buf.kind === 'channel' ? buf.topic :
                                 buf.kind === 'query' ? 'Only the two of you see this.' :
                                 'You are in no room: pick one in Rooms, or /join ROOM.';
    ui.bufferTopic.title = ui.bufferTopic.textContent;
}

function memberItem(m) {
    const me = isMe(m.nick);
    return {
        key: (me ? 'me:' : 'm:') + fold(m.nick),
        make: () => {
            const li = el('li');
            if (me) {
                li.append(el('span', 'me'));
            } else {
                const b = el('button');
                b.type = 'button';
                b.addEventListener('click', () => {
                    ctx.openQuery(b.dataset.nick);
                    ui.messageInput.focus();
                });
                li.append(b);
            }
            return li;
        },
        update: (li) => {
            const e = li.firstElementChild;
            e.textContent = me ? `${m.nick} (you)` : m.nick;
            e.classList.toggle('op', !!m.op);
            e.classList.toggle('away', !!m.away);
            if (!me) {
                e.dataset.nick = m.nick;
                e.title = `Talk to ${m.nick} in private`;
                e.setAttribute('aria-label', `${m.op ? 'operator ' : ''}${m.nick}` +
                               `${m.away ? ', away' : ''}: talk in private`);
            }
        },
    };
}

function renderMembers() {
    const buf = state.active;
    let list = [];
    if (buf.kind === 'channel') {
        list = [...buf.members.values()].sort((a, b) =>
            (b.op - a.op) || fold(a.nick).localeCompare(fold(b.nick)));
    } else if (buf.kind === 'query') {
        list = [{ nick: state.nick }, { nick: buf.name }];
    }
    reconcile(ui.members, list.map(memberItem));
    const n = list.length;
    ui.membersHeading.textContent = n ? `Members (${n})` : 'Members';
    ui.toggleMembers.textContent = n ? `Members (${n})` : 'Members';
}

/* ---- Side panels (drawers on small screens) ---- */

function openPanel(panel, toggle) {
    closePanels(false);
    panel.classList.add('open');
    toggle.setAttribute('aria-expanded', 'true');
    ui.scrim.hidden = false;
    if (panel === ui.sidebar) ctx.requestList(false);
    const first = panel.querySelector('button[aria-current="true"], button, input');
    if (first) first.focus();
}

/* Closes an open drawer; with refocus, gives the focus back to the button that opened it. */
function closePanels(refocus) {
    for (const [panel, toggle] of [[ui.sidebar, ui.toggleRooms], [ui.membersPanel,
                                                                   ui.toggleMembers]]) {
        if (!panel.classList.contains('open')) continue;
        panel.classList.remove('open');
        toggle.setAttribute('aria-expanded', 'false');
        if (refocus) toggle.focus();
    }
    ui.scrim.hidden = true;
}

function togglePanel(panel, toggle) {
    if (panel.classList.contains('open')) closePanels(true);
    else openPanel(panel, toggle);
}

/* ---- Sending ---- */

/*
 * Sends text to target (a channel or a nick) as PRIVMSGs: the server relays an IRC user's
 * message as ":NICK!USER@natter PRIVMSG TARGET :TEXT" CR LF in at most 512 bytes (§8.6, §8.9),
 * so a longer text goes out in pieces that fit. With echo-message the lines show when the server
 * sends them back, as everyone else gets them; without it they show at once.
 */
function sendText(target, text, isAction) {
    if (!state.conn.registered) {
        error('Not connected: nothing was sent. The page reconnects by itself.');
        return false;
    }
    const overhead = 2 * utf8Length(state.nick) + utf8Length(target) + 22 + (isAction ? 9 : 0);
    for (const piece of splitText(text, Math.max(64, 512 - overhead))) {
        state.conn.send(serialize('PRIVMSG', target, isAction ? action(piece) : piece));
        if (!state.conn.caps.has('echo-message')) {
            const buf = findBuffer(target);
            if (buf) {
                addLine(buf, isAction ? 'action' : 'msg', piece,
                        { nick: state.nick, nickKey: fold(state.nick), self: true });
            }
        }
    }
    return true;
}

/* What commands.js may do to the page. */
const ctx = {
    current: () => state.active,
    nick: () => state.nick,
    send: (line) => {
        if (!state.conn.registered) {
            error('Not connected: the command was not sent. The page reconnects by itself.');
            return;
        }
        state.conn.send(line);
    },
    info,
    error,
    sendText,
    say(text, isAction) {
        const buf = state.active;
        if (buf.kind === 'status') {
            error('You are in no room: /join ROOM, or pick one in Rooms.');
            return false;
        }
        return sendText(buf.name, text, isAction);
    },
    openQuery(nick) {
        activate(getBuffer('query', nick, true));
    },
    join(chan) {
        const buf = findBuffer(chan);
        if (buf && buf.joined) {
            activate(buf);
            return;
        }
        state.pendingSwitch.add(fold(chan));
        ctx.send(serialize('JOIN', chan));
    },
    part(reason) {
        const buf = state.active;
        if (buf.kind === 'query') removeBuffer(buf);
        else if (buf.kind === 'channel' && !buf.joined) removeBuffer(buf);
        else if (buf.kind === 'channel') ctx.send(reason ? serialize('PART', buf.name, reason) :
                                                  serialize('PART', buf.name));
        else error('You are in no room.');
    },
    requestWho(target) {
        state.whoRows = [];
        ctx.send(serialize('WHO', target));
    },
    requestList(show) {
        if (!state.conn || !state.conn.registered) return;
        if (show) state.listShow++;
        state.conn.send('LIST');
    },
    quit(reason) {
        state.conn.quit(reason);
    },
};

/* ---- What the server says ---- */

function memberLine(buf, text, date) {
    addLine(buf, 'event', text, { date });
}

/* Where a reply about a nick or channel goes: its buffer when the page has one. */
function bufferFor(name) {
    return (name && findBuffer(name)) || state.active;
}

function onPrivmsg(msg, isNotice) {
    const [target = '', text = ''] = msg.params;
    const date = dateOf(msg);
    if (!msg.source.includes('!')) {
        /* The server's own notices (":natter NOTICE ME :TEXT", §8.6). */
        addLine(state.active, 'notice', text, { nick: msg.nick || 'natter', nickKey: '', date,
                                                counts: true });
        return;
    }
    const self = isMe(msg.nick);
    let buf;
    if (isChannel(target)) {
        buf = findBuffer(target);
        if (!buf) return;
    } else {
        const other = self ? target : msg.nick;
        buf = isNotice && !findBuffer(other) ? state.active : getBuffer('query', other, true);
    }
    const act = actionText(text);
    if (act === null && text.startsWith('\x01')) return; /* another CTCP: not for people */
    if (msg.tags.time) {
        const sig = `${msg.tags.time}|${msg.nick}|${text}`;
        if (buf.seen.has(sig)) return;
        buf.seen.add(sig);
        if (buf.seen.size > 2 * MAX_LINES) buf.seen.delete(buf.seen.values().next().value);
    }
    const kind = act !== null ? 'action' : isNotice ? 'notice' : 'msg';
    addLine(buf, kind, act ?? text, {
        nick: msg.nick, nickKey: fold(msg.nick), self, date,
        mention: !self && mentionsMe(act ?? text), counts: !self,
    });
}

/* The reason of a QUIT or PART as the line door words it: "Quit: bye" is "bye" (§8.6). */
function reasonText(reason) {
    const m = /^Quit(?:: (.*))?$/s.exec(reason || '');
    const r = m ? (m[1] || '') : (reason || '');
    return r ? ` (${r})` : '';
}

const HANDLERS = {
    PRIVMSG: (msg) => onPrivmsg(msg, false),
    NOTICE: (msg) => onPrivmsg(msg, true),

    JOIN(msg) {
        const chan = msg.params[0];
        const date = dateOf(msg);
        if (isMe(msg.nick)) {
            const buf = getBuffer('channel', chan, true);
            buf.name = chan;
            buf.label();
            buf.joined = true;
            buf.joining = true;
            buf.names = [];
            if (state.welcome) {
                state.welcome = false;
                addLine(buf, 'info', `Welcome, ${state.nick}. Type /help for the commands.`,
                        { date });
            }
            if (state.pendingSwitch.delete(buf.key) || state.active === state.status) {
                activate(buf);
            }
            renderLists();
            ctx.requestList(false);
            return;
        }
        const buf = findBuffer(chan);
        if (!buf) return;
        buf.members.set(fold(msg.nick), { nick: msg.nick, op: false, away: false });
        memberLine(buf, `→ ${msg.nick} joined ${buf.name}`, date);
        if (buf === state.active) renderMembers();
    },

    PART(msg) {
        const [chan, reason = ''] = msg.params;
        const buf = findBuffer(chan);
        if (!buf) return;
        if (isMe(msg.nick)) {
            buf.joined = false;
            removeBuffer(buf);
            info(`You left ${chan}.`);
            ctx.requestList(false);
            return;
        }
        buf.members.delete(fold(msg.nick));
        memberLine(buf, `← ${msg.nick} left ${buf.name}${reason ? ` (${reason})` : ''}`,
                   dateOf(msg));
        if (buf === state.active) renderMembers();
    },

    QUIT(msg) {
        const key = fold(msg.nick);
        const text = `← ${msg.nick} left the chat${reasonText(msg.params[0])}`;
        for (const buf of state.buffers.values()) {
            const shared = buf.kind === 'channel' ? buf.members.delete(key) : buf.key === key;
            if (shared) memberLine(buf, text, dateOf(msg));
        }
        renderMembers();
    },

    NICK(msg) {
        const old = msg.nick;
        const neu = msg.params[0];
        const date = dateOf(msg);
        const me = isMe(old);
        if (me) {
            state.nick = neu;
            ui.myNick.textContent = neu;
        }
        const text = me ? `You are now known as ${neu}` : `${old} is now known as ${neu}`;
        const oldKey = fold(old);
        for (const buf of [...state.buffers.values()]) {
            if (buf.kind === 'channel' && buf.members.has(oldKey)) {
                const m = buf.members.get(oldKey);
                buf.members.delete(oldKey);
                buf.members.set(fold(neu), { ...m, nick: neu });
                memberLine(buf, text, date);
            } else if (buf.kind === 'query' && buf.key === oldKey) {
                state.buffers.delete(oldKey);
                buf.rename(neu);
                state.buffers.set(buf.key, buf);
                memberLine(buf, text, date);
            }
        }
        if (me && state.active === state.status) info(text);
        renderHeader();
        renderLists();
        renderMembers();
    },

    TOPIC(msg) {
        const [chan, topic = ''] = msg.params;
        const buf = findBuffer(chan);
        if (!buf) return;
        buf.topic = topic;
        memberLine(buf, topic ? `${msg.nick} set the topic: ${topic}` :
                                `${msg.nick} cleared the topic`, dateOf(msg));
        if (buf === state.active) renderHeader();
    },

    AWAY(msg) {
        const key = fold(msg.nick);
        const away = (msg.params[0] ?? '') !== '';
        for (const buf of state.buffers.values()) {
            const m = buf.members.get(key);
            if (m) m.away = away;
        }
        renderMembers();
    },

    WALLOPS(msg) {
        addLine(state.active, 'info', `Notice from ${msg.nick}: ${msg.params[0] ?? ''}`,
                { mention: true, date: dateOf(msg), counts: true });
    },

    /* The connection closes right after; its reason shows in the "Connection lost" line. */
    ERROR() {},

    /* The list of rooms (LIST): 321 starts it, 322 per room, 323 ends it. */
    321() {
        state.listing = [];
    },
    322(msg) {
        const [, name, count, topic = ''] = msg.params;
        (state.listing ||= []).push({ name, count: Number(count) || 0, topic });
    },
    323() {
        state.rooms = state.listing || [];
        state.listing = null;
        renderLists();
        if (state.listShow > 0) {
            state.listShow--;
            const n = state.rooms.length;
            info(`${n} room${n === 1 ? '' : 's'}:`);
            for (const r of state.rooms) {
                info(`${r.name}: ${r.count}${r.topic ? ` (${r.topic})` : ''}`);
            }
        }
    },

    /* WHO: 352 per member, 315 at the end; shown as one line, like the line door's /who. */
    352(msg) {
        const p = msg.params;
        const flags = p[6] ?? '';
        state.whoRows.push({ chan: p[1], nick: p[5], away: flags.includes('G'),
                             op: flags.includes('@') || flags.includes('*') });
    },
    315(msg) {
        const target = msg.params[1];
        const rows = state.whoRows;
        state.whoRows = [];
        const buf = isChannel(target) ? findBuffer(target) : null;
        if (buf) {
            for (const r of rows) {
                const m = buf.members.get(fold(r.nick));
                if (m) m.away = r.away;
            }
            if (buf === state.active) renderMembers();
        }
        const names = rows.map((r) => `${r.op ? '@' : ''}${r.nick}${r.away ? ' (away)' : ''}`);
        if (!isChannel(target)) {
            info(rows.length ? `${names[0]} is here.` : `Nobody called ${target} is here.`);
        } else {
            info(`${rows.length} in ${target}: ${names.join(', ') || 'nobody'}`);
        }
    },

    /* NAMES: 353 lines (several for a big room) then 366. */
    353(msg) {
        const [, , chan, list = ''] = msg.params;
        const buf = findBuffer(chan);
        const names = list.split(' ').filter(Boolean);
        if (!buf || !buf.joined) {
            info(`In ${chan}: ${names.join(', ')}`);
            return;
        }
        buf.names ||= [];
        for (const n of names) {
            const m = /^([@+%~&]*)(.*)$/.exec(n);
            buf.names.push({ nick: m[2], op: m[1].includes('@'), away: false });
        }
    },
    366(msg) {
        const buf = findBuffer(msg.params[1]);
        if (!buf || buf.names === null) return;
        const old = buf.members;
        buf.members = new Map(buf.names.map((m) => {
            const prev = old.get(fold(m.nick));
            return [fold(m.nick), { ...m, away: prev ? prev.away : false }];
        }));
        buf.names = null;
        if (buf.joining) {
            buf.joining = false;
            const others = [...buf.members.values()].filter((m) => !isMe(m.nick))
                .map((m) => m.nick);
            const n = others.length;
            const shown = others.slice(0, 20).join(', ') + (n > 20 ? ` and ${n - 20} more` : '');
            addLine(buf, 'event', `You are in ${buf.name}: ` +
                    (n === 0 ? 'nobody else is here.' :
                     `${n} other ${n === 1 ? 'person is' : 'people are'} here (${shown}).`));
        }
        if (buf === state.active) renderMembers();
    },

    /* Topics: 331 none, 332 the text (on joining, and for /topic), 333 who set it. */
    331(msg) {
        const buf = bufferFor(msg.params[1]);
        buf.topic = '';
        addLine(buf, 'info', `No topic is set for ${msg.params[1]}`);
        renderHeader();
    },
    332(msg) {
        const buf = bufferFor(msg.params[1]);
        buf.topic = msg.params[2] ?? '';
        addLine(buf, 'info', `Topic of ${msg.params[1]}: ${buf.topic}`);
        renderHeader();
    },
    333() {},

    301(msg) {
        const [, nick, text = ''] = msg.params;
        addLine(bufferFor(nick), 'info', `${nick} is away: ${text}`);
    },
    305(msg) { info(msg.params[1]); },
    306(msg) { info(msg.params[1]); },

    /* /nick refused after registration (before it, the name box shows them: onNickRefused). */
    432(msg) {
        if (!state.conn.registered) return;
        error(`You cannot be called "${msg.params[1]}": ${nickWhy(msg)}`);
    },
    433(msg) {
        if (!state.conn.registered) return;
        error(`You cannot be called "${msg.params[1]}": ${nickWhy(msg)}`);
    },
};

/* The registration and welcome noise (§8.2) that a person does not need to read. */
const QUIET = new Set(['001', '002', '003', '004', '005', '251', '252', '253', '254', '255',
                       '265', '266', '375', '372', '376', '422', '329', '324', '368']);

/* The server's words for a refused nick: 432 carries the §2.3 reason after "Erroneous nickname:
 * ", 433 says "Nickname is already in use". */
function nickWhy(msg) {
    const text = msg.params[msg.params.length - 1] ?? '';
    return text.replace(/^Erroneous nickname: /, '');
}

function onMessage(msg) {
    const h = HANDLERS[msg.command];
    if (!state.inChat && msg.command !== 'CAP') return;
    if (h) {
        h(msg);
        return;
    }
    if (!/^\d{3}$/.test(msg.command) || QUIET.has(msg.command)) return;
    /* Any other reply: its parameters after our nick, the trailing text last ("bob: No such
     * nick/channel", "#x: You're not on that channel"). Errors (4xx, 5xx) in red. */
    const p = msg.params.slice(1);
    const text = p.length > 1 ? `${p.slice(0, -1).join(' ')}: ${p[p.length - 1]}` : (p[0] ?? '');
    const buf = p.length > 1 ? bufferFor(p[0]) : state.active;
    if (msg.command === '403' || msg.command === '405') {
        state.pendingSwitch.delete(fold(p[0] ?? ''));
    }
    addLine(buf, msg.command >= '400' ? 'error' : 'info', text);
}

/* ---- The connection's life ---- */

function showBanner(text, retry) {
    ui.bannerText.textContent = text;
    ui.retry.hidden = !retry;
    ui.banner.hidden = false;
}

function onState(s, detail) {
    switch (s) {
    case 'connecting':
    case 'registering':
        if (state.inChat) {
            showBanner('Connection lost. Reconnecting…', false);
        } else {
            ui.loginButton.disabled = true;
            ui.loginButton.textContent = 'Joining…';
        }
        break;
    case 'reclaiming':
        showBanner(`Reconnected. Waiting for the server to free the name ${detail.nick}…`, false);
        break;
    case 'reconnecting': {
        const why = detail.reason ? ` (${detail.reason})` : '';
        if (!state.dropped) {
            state.dropped = true;
            state.rejoin = [];
            for (const buf of state.buffers.values()) {
                if (buf.kind !== 'channel') continue;
                if (buf.joined) state.rejoin.push(buf.name);
                buf.joined = false;
                addLine(buf, 'error', `Connection lost${why}. Reconnecting…`);
            }
            if (state.active === state.status) addLine(state.status, 'error', 'Connection lost.');
            renderLists();
        }
        const n = detail.seconds;
        showBanner(`Connection lost${why}. Reconnecting in ${n} second${n === 1 ? '' : 's'}…`,
                   true);
        break;
    }
    case 'online':
        ui.banner.hidden = true;
        break;
    case 'closed':
        clearInterval(state.listTimer);
        if (state.inChat) {
            showLogin(detail.quit ? 'You left the chat.' :
                      `Disconnected${detail.reason ? `: ${detail.reason}` : ''}.`);
        } else {
            ui.loginButton.disabled = false;
            ui.loginButton.textContent = 'Join the chat';
            ui.loginError.textContent = detail.reason ? detail.reason :
                'Could not reach the server. Try again in a moment.';
            ui.nameInput.focus();
        }
        break;
    }
}

function onRegistered(nick, again) {
    state.nick = nick;
    ui.myNick.textContent = nick;
    if (!again || !state.inChat) {
        enterChat();
        state.pendingSwitch.add(fold(LOBBY));
        state.conn.send(serialize('JOIN', LOBBY));
    } else {
        const names = state.rejoin;
        state.rejoin = [];
        state.dropped = false;
        for (const name of names) addLine(findBuffer(name), 'event', `Reconnected as ${nick}.`);
        if (!names.length) info(`Reconnected as ${nick}.`);
        if (names.length) state.conn.send(serialize('JOIN', names.join(',')));
    }
    ctx.requestList(false);
    clearInterval(state.listTimer);
    state.listTimer = setInterval(() => {
        if (!document.hidden) ctx.requestList(false);
    }, LIST_SECONDS * 1000);
}

function onNickRefused(code, msg) {
    if (state.inChat) showLogin('');
    ui.loginButton.disabled = false;
    ui.loginButton.textContent = 'Join the chat';
    ui.loginError.textContent = code === '433'
        ? `"${msg.params[1]}": ${nickWhy(msg)}. Pick another name.`
        : `"${msg.params[1]}": ${nickWhy(msg)}`;
    ui.nameInput.focus();
    ui.nameInput.select();
}

/* Forgets every room and conversation: a fresh start after /quit or a lost name. */
function resetBuffers() {
    for (const buf of state.buffers.values()) buf.log.remove();
    state.buffers.clear();
    state.status.log.replaceChildren();
    state.active = null;
    state.rooms = [];
    state.pendingSwitch.clear();
    state.rejoin = [];
    state.dropped = false;
    activate(state.status);
}

function enterChat() {
    resetBuffers();
    state.inChat = true;
    ui.login.hidden = true;
    ui.chat.hidden = false;
    ui.banner.hidden = true;
    state.welcome = true;
    ui.messageInput.focus();
}

function showLogin(message) {
    state.inChat = false;
    clearInterval(state.listTimer);
    ui.chat.hidden = true;
    ui.login.hidden = false;
    ui.loginButton.disabled = false;
    ui.loginButton.textContent = 'Join the chat';
    ui.loginError.textContent = message;
    ui.nameInput.value = state.nick || ui.nameInput.value;
    document.title = 'natter';
    ui.nameInput.focus();
}

/* ---- The page's controls ---- */

function wire() {
    ui.loginForm.addEventListener('submit', (ev) => {
        ev.preventDefault();
        const name = ui.nameInput.value.trim();
        if (name === '') {
            ui.loginError.textContent = 'Name cannot be empty.';
            ui.nameInput.focus();
            return;
        }
        ui.loginError.textContent = '';
        state.nick = name;
        state.conn.register(name);
    });

    ui.sendForm.addEventListener('submit', (ev) => {
        ev.preventDefault();
        const text = ui.messageInput.value.trim();
        if (text === '') return;
        if (runInput(text, ctx)) {
            state.sent.push(text);
            if (state.sent.length > 100) state.sent.shift();
            state.sentAt = state.sent.length;
            ui.messageInput.value = '';
        }
    });

    /* Up and Down walk back and forth through what was sent, as in a shell. */
    ui.messageInput.addEventListener('keydown', (ev) => {
        if (ev.altKey || ev.ctrlKey || ev.metaKey || ev.shiftKey) return;
        if (ev.key === 'ArrowUp' && state.sentAt > 0) {
            state.sentAt--;
        } else if (ev.key === 'ArrowDown' && state.sentAt < state.sent.length) {
            state.sentAt++;
        } else {
            return;
        }
        ev.preventDefault();
        ui.messageInput.value = state.sent[state.sentAt] ?? '';
    });

    ui.joinForm.addEventListener('submit', (ev) => {
        ev.preventDefault();
        const room = ui.joinInput.value.trim().replace(/^#/, '');
        if (room === '') return;
        ui.joinInput.value = '';
        ctx.join('#' + room);
        ui.messageInput.focus();
    });

    ui.refreshRooms.addEventListener('click', () => ctx.requestList(false));
    ui.retry.addEventListener('click', () => state.conn.reconnectNow());
    ui.toggleRooms.addEventListener('click', () => togglePanel(ui.sidebar, ui.toggleRooms));
    ui.toggleMembers.addEventListener('click', () =>
        togglePanel(ui.membersPanel, ui.toggleMembers));
    ui.scrim.addEventListener('click', () => closePanels(true));
    /* A drawer left open when the window grows into three columns would stay "open" unseen. */
    roomsDrawer.addEventListener('change', () => closePanels(false));
    membersDrawer.addEventListener('change', () => closePanels(false));

    document.addEventListener('keydown', (ev) => {
        if (!state.inChat) return;
        if (ev.key === 'Escape') {
            const open = ui.sidebar.classList.contains('open') ||
                         ui.membersPanel.classList.contains('open');
            closePanels(false);
            if (open || document.activeElement !== ui.messageInput) ui.messageInput.focus();
        } else if (ev.altKey && (ev.key === 'ArrowUp' || ev.key === 'ArrowDown')) {
            ev.preventDefault();
            const list = orderedBuffers();
            if (!list.length) return;
            const i = list.indexOf(state.active);
            const step = ev.key === 'ArrowUp' ? -1 : 1;
            activate(list[(i + step + list.length) % list.length]);
        }
    });

    document.addEventListener('visibilitychange', () => {
        if (!document.hidden && state.active) {
            state.active.unread = 0;
            state.active.mentions = 0;
            renderLists();
        }
    });
}

function main() {
    const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
    state.conn = new Connection(`${scheme}://${window.location.host}/ws`,
                                { onMessage, onState, onRegistered, onNickRefused });
    state.status = new Buffer('status', 'natter');
    state.active = state.status;
    activate(state.status);
    wire();
    ui.nameInput.focus();
}

main();
