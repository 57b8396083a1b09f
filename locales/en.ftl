# kuota bot, English. Every key here exists in id.ftl too (a unit test compares them).
# Messages are Telegram HTML: only <b>, <i>, <code>, <pre> are used; a literal < is &lt;.
# Variables arrive already escaped.

## Access

refusal = This bot is private.
only-private = Use me in a private chat.

## Start and help

start-text =
    <b>kuota</b> counts your customers' usage and enforces their quotas.
    I tell you when an account is deleted or locked, and you manage accounts from here.

    Send /help for the commands.
help-text =
    <b>Commands</b>
    /adduser — create an account (step by step)
    /users — accounts by usage, with filters
    /usage NAME — one account's usage, with Renew +30 days and Top up buttons
    /limit NAME SIZE — set a quota (5GB, 500MB, unlimited)
    /renew NAME DAYS — add days to an account's expiry (0: never expires)
    /delete NAME — delete an account
    /hosts [filter] — latest hosts seen
    /deleted — latest deletions
    /status — worker, engine, SSH, capture
    /language — English / Bahasa Indonesia
    /cancel — leave the current step

    In any chat, type <code>@bot name</code> to share an account's card.
unknown-command = I don't know that command. Send /help for the list.
not-a-command = Send /help for the commands.

cmd-start = What this bot does
cmd-help = The commands
cmd-adduser = Create an account
cmd-users = Accounts by usage
cmd-usage = One account's usage
cmd-limit = Set an account's quota
cmd-renew = Add days to an account's expiry
cmd-delete = Delete an account
cmd-hosts = Latest hosts seen
cmd-deleted = Latest deletions
cmd-status = Worker status
cmd-language = Change language
cmd-cancel = Leave the current step

## Errors

internal-error = Something went wrong. The details are in the bot's log.
worker-down = The kuota worker is not running. Start it with <code>systemctl start kuota-worker</code>.
worker-refused = The worker refused: { $message }
feature-missing = This worker does not offer that yet. Update kuota.
no-account = No account named <b>{ $name }</b>.
account-exists = An account named <b>{ $name }</b> already exists.
unknown-button = This button is no longer valid. Send the command again.

## Names, sizes, days, passwords

name-empty = The name is empty.
name-too-long = The name has { $length } characters; at most { $max } are allowed.
name-uppercase = Use lowercase letters ({ $char } → { $lower }).
name-bad-char = “{ $char }” is not allowed. Use a-z, 0-9, dot, underscore or hyphen.
name-bad-start = Start the name with a letter or a digit.
size-invalid = “{ $input }” is not a size. Write it like 500MB, 5GB or 1.5GB, or “unlimited”.
days-invalid = Send a whole number of days from 1 to { $max }, or 0 for no expiry.
password-length = The password needs { $min } to { $max } characters.
password-chars = Use letters, digits and symbols only, without spaces.

## Account figures

unlimited = unlimited
never = never
not-yet = not yet
state-active = active
state-locked = locked
state-absent = missing from the system
filter-all = all
usage-card =
    <b>{ $name }</b> · { $protocol } · { $state }
    ⬆ Upload: { $upload }
    ⬇ Download: { $download }
    Σ Total: { $total }
    Today: { $today }
    Quota: { $limit }{ $percent }
    { $bar }
    Last seen: { $lastSeen }
    Expires: { $expires }
usage-needs-name = Send it with a name: <code>/usage alice</code>

## /users

users-header = <b>Accounts</b> · { $filter } · { $count } · page { $page }/{ $pages }
users-line = { $rank }. <b>{ $name }</b> · { $protocol } · { $used } / { $limit }{ $percent }
users-empty = No accounts here.
button-prev = ‹ Back
button-next = Next ›

## /limit and /delete

limit-usage = Send a name and a size: <code>/limit alice 10GB</code> (<code>unlimited</code> removes the quota).
limit-done = Quota of <b>{ $name }</b> is now { $limit }.
renew-usage = Send a name and a number of days: <code>/renew alice 30</code> adds 30 days to its expiry (to today when it has passed); <code>0</code> removes the expiry.
renew-done = <b>{ $name }</b> now expires { $expires }.
button-renew = Renew +{ $days } days
button-topup = Top up
topup-confirm =
    Top up <b>{ $name }</b>: usage back to 0 (used { $used } so far), quota { $limit } kept?
    A locked account works again.
button-topup-yes = Top up
button-topup-no = Keep
topup-cancelled = <b>{ $name }</b> is left as it was.
topup-done = <b>{ $name }</b> is topped up: 0 used of { $limit }.
topup-no-limit = <b>{ $name }</b> has no quota to top up: set one with <code>/limit { $name } 10GB</code>.
delete-usage = Send a name: <code>/delete alice</code>
delete-confirm =
    Delete <b>{ $name }</b> ({ $protocol }, used { $used })?
    Customers on this account are cut off. This cannot be undone.
button-delete-yes = Delete
button-delete-no = Keep
delete-cancelled = Kept <b>{ $name }</b>.
delete-done = <b>{ $name }</b> is deleted.
delete-partial = <b>{ $name }</b>: some steps failed. Send /delete { $name } again to finish.
delete-step-ok = ✅ { $step }
delete-step-failed = ❌ { $step }: { $detail }

## /hosts and /deleted

hosts-header = <b>Latest hosts</b>{ $filter }
hosts-filter = {" "}matching “{ $filter }”
hosts-line = <code>{ $host }</code> · { $service } · { $ip } · { $account } · ×{ $count } · { $time }
hosts-empty = No hosts seen yet.
deleted-header = <b>Latest deletions</b>
deleted-line = { $time } · <b>{ $name }</b> · { $protocol } · { $details }
deleted-empty = Nothing deleted yet.

## /status

status-text =
    <b>kuota status</b>
    Worker: up { $uptime } (pid { $pid })
    Engine: { $engine }
    Accounts: { $present } present of { $total }
    Last poll: { $lastPoll } · { $pollMs } ms · { $polls } polls · { $restarts } engine restarts
    SSH: { $ssh }
    Host capture: { $capture }
status-engine-up = { $flavor }, reachable
status-engine-down = unreachable
status-ssh-on = { $sessions } live sessions
status-capture-on = { $hosts } hosts, { $records } records, { $lost } lost
status-off = off ({ $reason })
status-not-running = not running

## /language

language-choose = Choose a language:
language-set = I will speak English with you.

## Inline mode

inline-description = { $protocol } · { $used } / { $limit }{ $percent }

## /cancel

cancel-done = Cancelled.
cancel-nothing = Nothing to cancel.

## /adduser

add-ask-protocol = Which protocol?
add-ask-name = Name of the account? (a-z, 0-9, dot, underscore, hyphen; at most 32)
add-ask-password = SSH password? Send one, or press Generate.
add-ask-limit = Quota? Press a button or send a size like 20GB.
add-ask-days = Valid for how many days? Press a button or send a number.
add-button-generate = Generate
add-button-never = No expiry
add-days-button = { $days } days
add-protocol-invalid = Press one of the buttons, or send ssh, vmess, vless, trojan or shadowsocks.
add-answer-first = Answer the question above, or send /cancel to leave.
add-creating = Creating <b>{ $name }</b>…
add-failed = Could not create <b>{ $name }</b>: { $reason }
add-created =
    ✅ <b>{ $name }</b> · { $protocol } created
    Quota: { $limit } · Expires: { $expires }
add-connection = <b>Connection</b> (tap to copy)
add-host = Host: { $host }
add-user = User: { $name }
add-secret-password = Password: { $secret }
add-secret-uuid = UUID: { $secret }
add-method = Method: { $method }
add-endpoint = { $tag }: port { $port }, { $network }{ $path }{ $tls }
add-links = <b>Links</b>
add-notes = ⚠️ <b>Note</b>
add-note = • { $note }

## Pushes

push-header =
    { $count ->
        [one] ⚠️ <b>1 account</b> changed
       *[other] ⚠️ <b>{ $count } accounts</b> changed
    }
event-deleted = 🗑 <b>{ $name }</b> · { $protocol } deleted — { $used } / { $limit } · { $reason } · { $time }
event-locked = 🔒 <b>{ $name }</b> · { $protocol } locked — { $used } / { $limit } · { $reason } · { $time }
button-topup-named = Top up { $name }
button-renew-named = Renew { $name } +{ $days } days
reason-quota = quota used up
reason-expired = expired

## Language buttons (each in its own language, the same in every file)

language-button-en = English
language-button-id = Bahasa Indonesia
