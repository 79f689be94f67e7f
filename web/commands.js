/* SPDX-License-Identifier: MIT */
/* commands.js - the message box's slash commands, as nc users have them (PROTOCOL.md §7.2). */

import { serialize, isChannel } from './irc.js';

/*
 * One table drives both running a command and /help, in the order of §7.2 with the page's two
 * additions (/part and /away, which IRC has and the line door does not need). Each entry:
 * usage as /help shows it, what it does, and run(args, ctx), where args is the text after the
 * command word (trimmed) and ctx the page (app.js): it returns false for a usage error.
 * /ban, /unban and /bans are line-door commands the IRC door does not carry (§8.10).
 */
const COMMANDS = [
    {
        usage: '/help',
        help: 'list the commands',
        run: (args, ctx) => {
            ctx.info('Commands (start a line with // to send one that begins with /):');
            for (const c of COMMANDS) ctx.info(`${c.usage} - ${c.help}`);
            ctx.info('Keys: Alt+Up and Alt+Down switch rooms and conversations, Escape closes ' +
                     'a side panel, Up and Down in the message box recall what you sent.');
            return true;
        },
    },
    {
        usage: '/who [ROOM]',
        help: 'who is in your room (or in ROOM)',
        run: (args, ctx) => {
            const cur = ctx.current();
            let target = args.split(/\s+/)[0] || '';
            if (target === '') {
                if (cur.kind === 'status') {
                    ctx.error('You are in no room; say which: /who ROOM');
                    return true;
                }
                target = cur.name;
            } else if (!isChannel(target) && target !== '*') {
                target = '#' + target;
            }
            ctx.requestWho(target);
            return true;
        },
    },
    {
        usage: '/nick NEW',
        help: 'change your name',
        run: (args, ctx) => {
            if (args === '' || /\s/.test(args)) return false;
            ctx.send(serialize('NICK', args));
            return true;
        },
    },
    {
        usage: '/me ACTION',
        help: 'tell your room what you do: * NAME ACTION',
        run: (args, ctx) => {
            if (args === '') return false;
            return ctx.say(args, true);
        },
    },
    {
        usage: '/msg NAME TEXT',
        help: 'a private message to NAME, in any room; opens a conversation',
        run: (args, ctx) => {
            const m = /^(\S+)\s+(.+)$/s.exec(args);
            if (!m || isChannel(m[1])) return false;
            ctx.openQuery(m[1]);
            ctx.sendText(m[1], m[2], false);
            return true;
        },
    },
    {
        usage: '/join ROOM',
        help: 'go to ROOM (created if new); everyone starts in lobby',
        run: (args, ctx) => {
            const room = args.replace(/^#/, '');
            if (room === '' || /\s/.test(room)) return false;
            ctx.join('#' + room);
            return true;
        },
    },
    {
        usage: '/rooms',
        help: 'every room and how many are in it',
        run: (args, ctx) => {
            if (args !== '') return false;
            ctx.requestList(true);
            return true;
        },
    },
    {
        usage: '/topic [TEXT]',
        help: "show your room's topic, or set it (/topic - clears it)",
        run: (args, ctx) => {
            const cur = ctx.current();
            if (cur.kind !== 'channel') {
                ctx.error('/topic works in a room.');
                return true;
            }
            if (args === '') ctx.send(serialize('TOPIC', cur.name));
            else ctx.send(serialize('TOPIC', cur.name, args === '-' ? '' : args));
            return true;
        },
    },
    {
        usage: '/part',
        help: 'leave this room, or close this conversation',
        run: (args, ctx) => {
            ctx.part(args);
            return true;
        },
    },
    {
        usage: '/away [TEXT]',
        help: 'say you are away (with TEXT), or back (without)',
        run: (args, ctx) => {
            ctx.send(args === '' ? 'AWAY' : serialize('AWAY', args));
            return true;
        },
    },
    {
        usage: '/quit [REASON]',
        help: 'leave the chat',
        run: (args, ctx) => {
            ctx.quit(args);
            return true;
        },
    },
    {
        usage: '/oper PASSWORD',
        help: 'become an operator',
        run: (args, ctx) => {
            if (args === '' || /\s/.test(args)) return false;
            ctx.send(serialize('OPER', ctx.nick(), args));
            return true;
        },
    },
    {
        usage: '/kick NAME [REASON]',
        help: 'disconnect NAME (operators)',
        run: (args, ctx) => {
            const m = /^(\S+)(?:\s+(.+))?$/s.exec(args);
            if (!m) return false;
            /* KICK names a channel (§8.8) but disconnects NAME wherever it is. */
            const cur = ctx.current();
            const room = cur.kind === 'channel' ? cur.name : '#lobby';
            if (m[2]) ctx.send(serialize('KICK', room, m[1], m[2]));
            else ctx.send(serialize('KICK', room, m[1]));
            return true;
        },
    },
    {
        usage: '/wall TEXT',
        help: 'a notice to everyone on the server (operators)',
        run: (args, ctx) => {
            if (args === '') return false;
            ctx.send(serialize('WALLOPS', args));
            return true;
        },
    },
];

/*
 * Runs one line typed into the message box. A line starting with '/' is a command, unless it
 * starts with '//', which sends the rest as text ("//shrug" says "/shrug"); anything else is said
 * in the current room or conversation. Returns true when the box may be cleared, false to keep
 * the text there (nothing could be sent).
 */
export function runInput(text, ctx) {
    if (text.startsWith('//')) return ctx.say(text.slice(1), false);
    if (!text.startsWith('/')) return ctx.say(text, false);
    const m = /^\/(\S+)\s*(.*)$/s.exec(text);
    const word = m ? m[1].toLowerCase() : '';
    const args = m ? m[2].trim() : '';
    const cmd = COMMANDS.find((c) => c.usage.slice(1).split(' ')[0] === word);
    if (!cmd) {
        ctx.error(`Unknown command: /${m ? m[1] : ''}. Type /help for the commands.`);
        return false;
    }
    if (!cmd.run(args, ctx)) {
        ctx.error(`Usage: ${cmd.usage}`);
        return false;
    }
    return true;
}
