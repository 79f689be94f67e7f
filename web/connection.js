/* SPDX-License-Identifier: MIT */
/* connection.js - the WebSocket to the IRC door: registration, PING, reconnect with backoff. */

import { parse, serialize } from './irc.js';

/* The capabilities the page uses (docs/PROTOCOL.md §8.3), requested in this order when the
 * server offers them: server-time for timestamps, echo-message so one's own lines show as the
 * server relayed them, multi-prefix and away-notify for the member list, message-tags because
 * server-time rides on tags. */
const WANTED_CAPS = ['server-time', 'echo-message', 'multi-prefix', 'away-notify', 'message-tags'];

/* Reconnect delays in seconds, the last one repeated; each gets up to 25% of jitter so that the
 * pages of a restarted server do not all come back in the same millisecond. */
const BACKOFF = [1, 2, 4, 8, 15, 30];
/* While reclaiming our name after a reconnect (the server may still hold it for the dead
 * connection until its ping timeout, §8.9), NICK again this often. The server ends a connection
 * after its 5th refused nick (§8.2); the reconnect that follows starts the count again. */
const RECLAIM_SECONDS = 3;
/* The server pings a silent client (§8.9), but a connection that died without a FIN (a phone
 * that slept, a NAT that forgot us) stays "open" in the browser until something is sent. After
 * this long without a byte from the server we PING; no answer within PONG_SECONDS means dead. */
const IDLE_SECONDS = 45;
const PONG_SECONDS = 15;

/*
 * One logical connection, across reconnects. The owner gives callbacks:
 *   onMessage(msg)         every parsed message from the server (registration replies included)
 *   onRegistered(nick, again)  registration completed; again is true after a reconnect
 *   onNickRefused(code, msg)   432 or 433 before the first registration: the name box asks again
 *   onState(state, detail) 'connecting', 'registering', 'online', 'reconnecting' ({ seconds,
 *                          reason }), 'reclaiming' ({ nick }), 'closed' ({ reason }): for the page
 * The callbacks run from WebSocket and timer events, never inside a call to a method here.
 */
export class Connection {
    constructor(url, callbacks) {
        this.url = url;
        this.cb = callbacks;
        this.ws = null;
        this.nick = '';           /* the name we register with (and take back after a drop) */
        this.registered = false;  /* this socket completed registration */
        this.everRegistered = false; /* once true, a drop reconnects by itself */
        this.caps = new Set();    /* capabilities the server acknowledged on this socket */
        this.lsCaps = [];         /* CAP LS may come in several lines ("LS * :...") */
        this.attempt = 0;         /* reconnects since the last registration */
        this.timers = { reconnect: 0, reclaim: 0, idle: 0, pong: 0 };
        this.lastError = '';      /* the text of the server's ERROR line, for the close reason */
        this.quitting = false;
        this.noReconnect = false; /* kicked or banned (§8.8): coming back would be rude */
        window.addEventListener('online', () => {
            if (this.timers.reconnect) this.reconnectNow();
        });
    }

    /*
     * Registers as nick: opens the socket if there is none, else (after a refused nick) sends
     * NICK on the one waiting for it.
     */
    register(nick) {
        this.nick = nick;
        this.quitting = false;
        if (this.ws && this.ws.readyState <= WebSocket.OPEN) {
            if (this.ws.readyState === WebSocket.OPEN) this.send(serialize('NICK', nick));
            return;
        }
        this.open();
    }

    /* Sends one IRC line; dropped when the socket is not open (the page says it is offline). */
    send(line) {
        if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(line);
    }

    /* QUIT [:reason]; no reconnect follows. */
    quit(reason) {
        this.quitting = true;
        this.clearTimers();
        if (!this.registered) {
            this.abandon('');
            return;
        }
        this.send(reason ? serialize('QUIT', reason) : 'QUIT');
        /* The server answers with ERROR and closes (§8.9); if it does not, stop waiting. */
        const ws = this.ws;
        setTimeout(() => {
            if (this.ws === ws && ws) this.abandon('');
        }, 3000);
    }

    /* Reconnects at once instead of waiting for the backoff (the page's "Retry now" button). */
    reconnectNow() {
        clearTimeout(this.timers.reconnect);
        this.timers.reconnect = 0;
        this.open();
    }

    open() {
        this.clearTimers();
        this.registered = false;
        this.caps = new Set();
        this.lsCaps = [];
        this.lastError = '';
        this.noReconnect = false;
        this.cb.onState(this.everRegistered ? 'registering' : 'connecting', {});
        let ws;
        try {
            ws = new WebSocket(this.url, 'text.ircv3.net');
        } catch (e) {
            this.onClose(null, String(e.message || e));
            return;
        }
        this.ws = ws;
        ws.onopen = () => {
            if (ws !== this.ws) return;
            this.cb.onState('registering', {});
            /* NICK and USER go with CAP LS: the server completes registration only at CAP END
             * (§8.2), which we send once the capabilities are settled. */
            this.send('CAP LS 302');
            this.send(serialize('NICK', this.nick));
            this.send(serialize('USER', 'web', '0', '*', this.nick));
            this.armIdle();
        };
        ws.onmessage = (ev) => {
            if (ws !== this.ws || typeof ev.data !== 'string') return;
            this.armIdle();
            const msg = parse(ev.data);
            if (msg) this.handle(msg);
        };
        ws.onclose = (ev) => {
            if (ws !== this.ws) return;
            this.onClose(ev, '');
        };
        /* An error is always followed by a close event, which does the work. */
        ws.onerror = () => {};
    }

    /* Stops listening to the current socket and closes it; the close event is ignored, so a
     * socket that cannot finish its closing handshake does not hold anything up. */
    abandon(reason) {
        const ws = this.ws;
        this.ws = null;
        if (ws) ws.close();
        this.onClose(null, reason);
    }

    onClose(ev, reason) {
        const wasRegistered = this.registered;
        this.ws = null;
        this.registered = false;
        this.clearTimers();
        const why = reason || this.lastError || (ev && ev.reason) || '';
        if (this.quitting || this.noReconnect || !this.everRegistered) {
            /* The next register() starts from the name box: a refused name is the person's to
             * fix again, not ours to retry. */
            this.everRegistered = false;
            this.attempt = 0;
            this.cb.onState('closed', { reason: why, quit: this.quitting, wasRegistered });
            return;
        }
        const base = BACKOFF[Math.min(this.attempt, BACKOFF.length - 1)];
        const seconds = base * (1 + Math.random() * 0.25);
        this.attempt++;
        this.timers.reconnect = setTimeout(() => {
            this.timers.reconnect = 0;
            this.open();
        }, seconds * 1000);
        this.cb.onState('reconnecting', { seconds: Math.round(seconds), reason: why });
    }

    handle(msg) {
        const p = msg.params;
        switch (msg.command) {
        case 'PING':
            this.send(serialize('PONG', p[0] ?? ''));
            return;
        case 'CAP':
            this.handleCap(msg);
            break;
        case 'ERROR':
            /* "ERROR :Closing link: Server shutting down" (§8.9): the close follows. */
            this.lastError = (p[0] ?? '').replace(/^Closing link: /, '');
            if (/^(Kicked|Banned) by /.test(this.lastError)) this.noReconnect = true;
            break;
        case '001': {
            this.registered = true;
            this.attempt = 0;
            this.nick = p[0];
            clearTimeout(this.timers.reclaim);
            const again = this.everRegistered;
            this.everRegistered = true;
            this.cb.onState('online', {});
            this.cb.onRegistered(this.nick, again);
            break;
        }
        case 'NICK':
            /* Our own rename: a reconnect takes the new name back. */
            if (this.registered && msg.nick === this.nick) this.nick = p[0];
            break;
        case '432':
        case '433':
            if (this.registered) break;
            if (this.everRegistered && msg.command === '433') {
                /* The name is ours, the server just has not seen the old connection go yet. */
                this.cb.onState('reclaiming', { nick: this.nick });
                clearTimeout(this.timers.reclaim);
                this.timers.reclaim = setTimeout(() => {
                    this.send(serialize('NICK', this.nick));
                }, RECLAIM_SECONDS * 1000);
            } else if (this.everRegistered) {
                /* The server no longer takes the name at all: only the person can pick one. */
                this.everRegistered = false;
                this.cb.onNickRefused(msg.command, msg);
            } else {
                this.cb.onNickRefused(msg.command, msg);
            }
            break;
        }
        this.cb.onMessage(msg);
    }

    handleCap(msg) {
        /* :natter CAP ME SUB [*] :CAPS */
        const sub = (msg.params[1] ?? '').toUpperCase();
        const more = msg.params.length > 3 && msg.params[2] === '*';
        const list = (msg.params[msg.params.length - 1] ?? '').split(' ').filter(Boolean);
        if (sub === 'LS' && !this.registered) {
            this.lsCaps.push(...list.map((c) => c.split('=')[0]));
            if (more) return;
            const req = WANTED_CAPS.filter((c) => this.lsCaps.includes(c));
            if (req.length) this.send(serialize('CAP', 'REQ', req.join(' ')));
            else this.send('CAP END');
        } else if (sub === 'ACK') {
            for (const c of list) {
                if (c.startsWith('-')) this.caps.delete(c.slice(1));
                else this.caps.add(c);
            }
            if (!this.registered) this.send('CAP END');
        } else if (sub === 'NAK' && !this.registered) {
            this.send('CAP END');
        }
    }

    armIdle() {
        clearTimeout(this.timers.idle);
        clearTimeout(this.timers.pong);
        this.timers.pong = 0;
        this.timers.idle = setTimeout(() => {
            this.send('PING :web');
            this.timers.pong = setTimeout(() => this.abandon('The server stopped answering.'),
                                          PONG_SECONDS * 1000);
        }, IDLE_SECONDS * 1000);
    }

    clearTimers() {
        for (const k of Object.keys(this.timers)) {
            clearTimeout(this.timers[k]);
            this.timers[k] = 0;
        }
    }
}
