# Bot kuota, Bahasa Indonesia. Setiap kunci di sini juga ada di en.ftl (diperiksa unit test).
# Pesan memakai HTML Telegram: hanya <b>, <i>, <code>, <pre>; tanda < ditulis &lt;.
# Variabel datang sudah di-escape.

## Akses

refusal = Bot ini bersifat pribadi.
only-private = Pakai saya di chat pribadi.

## Mulai dan bantuan

start-text =
    <b>kuota</b> menghitung pemakaian pelanggan Anda dan menegakkan kuotanya.
    Saya kabari kalau ada akun yang dihapus atau dikunci, dan Anda bisa kelola akun dari sini.

    Kirim /help untuk daftar perintah.
help-text =
    <b>Perintah</b>
    /adduser — buat akun (langkah demi langkah)
    /users — daftar akun menurut pemakaian, bisa difilter
    /usage NAMA — pemakaian satu akun, dengan tombol Perpanjang +30 hari dan Isi ulang
    /limit NAMA UKURAN — atur kuota (5GB, 500MB, unlimited)
    /renew NAMA HARI — tambah masa aktif akun (0: tanpa kedaluwarsa)
    /delete NAMA — hapus akun
    /hosts [filter] — host yang terakhir diakses
    /deleted — akun yang terakhir dihapus
    /status — worker, engine, SSH, capture
    /language — English / Bahasa Indonesia
    /cancel — batalkan langkah yang sedang berjalan

    Di chat mana pun, ketik <code>@bot nama</code> untuk membagikan kartu akun.
unknown-command = Saya tidak kenal perintah itu. Kirim /help untuk daftarnya.
not-a-command = Kirim /help untuk daftar perintah.

cmd-start = Tentang bot ini
cmd-help = Daftar perintah
cmd-adduser = Buat akun
cmd-users = Akun menurut pemakaian
cmd-usage = Pemakaian satu akun
cmd-limit = Atur kuota akun
cmd-renew = Tambah masa aktif akun
cmd-delete = Hapus akun
cmd-hosts = Host terakhir
cmd-deleted = Akun yang terakhir dihapus
cmd-status = Status worker
cmd-language = Ganti bahasa
cmd-cancel = Batalkan langkah ini

## Kesalahan

internal-error = Ada yang salah. Rinciannya ada di log bot.
worker-down = Worker kuota tidak berjalan. Nyalakan dengan <code>systemctl start kuota-worker</code>.
worker-refused = Worker menolak: { $message }
feature-missing = Worker ini belum punya fitur itu. Perbarui kuota.
no-account = Tidak ada akun bernama <b>{ $name }</b>.
account-exists = Akun bernama <b>{ $name }</b> sudah ada.
unknown-button = Tombol ini sudah tidak berlaku. Kirim perintahnya lagi.

## Nama, ukuran, hari, kata sandi

name-empty = Namanya kosong.
name-too-long = Namanya { $length } karakter; maksimal { $max }.
name-uppercase = Pakai huruf kecil ({ $char } → { $lower }).
name-bad-char = “{ $char }” tidak boleh dipakai. Gunakan a-z, 0-9, titik, garis bawah atau tanda hubung.
name-bad-start = Awali nama dengan huruf atau angka.
size-invalid = “{ $input }” bukan ukuran. Tulis seperti 500MB, 5GB atau 1.5GB, atau “unlimited”.
days-invalid = Kirim jumlah hari berupa angka bulat 1 sampai { $max }, atau 0 agar tidak kedaluwarsa.
password-length = Kata sandi harus { $min } sampai { $max } karakter.
password-chars = Gunakan huruf, angka dan simbol saja, tanpa spasi.

## Angka akun

unlimited = tanpa batas
never = tidak pernah
not-yet = belum pernah
state-active = aktif
state-locked = dikunci
state-absent = tidak ada di sistem
filter-all = semua
usage-card =
    <b>{ $name }</b> · { $protocol } · { $state }
    ⬆ Upload: { $upload }
    ⬇ Download: { $download }
    Σ Total: { $total }
    Hari ini: { $today }
    Kuota: { $limit }{ $percent }
    { $bar }
    Terakhir aktif: { $lastSeen }
    Kedaluwarsa: { $expires }
usage-needs-name = Kirim bersama namanya: <code>/usage alice</code>

## /users

users-header = <b>Akun</b> · { $filter } · { $count } · halaman { $page }/{ $pages }
users-line = { $rank }. <b>{ $name }</b> · { $protocol } · { $used } / { $limit }{ $percent }
users-empty = Tidak ada akun di sini.
button-prev = ‹ Kembali
button-next = Lanjut ›

## /limit dan /delete

limit-usage = Kirim nama dan ukuran: <code>/limit alice 10GB</code> (<code>unlimited</code> menghapus kuota).
limit-done = Kuota <b>{ $name }</b> sekarang { $limit }.
renew-usage = Kirim nama dan jumlah hari: <code>/renew alice 30</code> menambah 30 hari ke masa aktifnya (dari hari ini bila sudah lewat); <code>0</code> menghapus kedaluwarsa.
renew-done = <b>{ $name }</b> sekarang kedaluwarsa { $expires }.
button-renew = Perpanjang +{ $days } hari
button-topup = Isi ulang
topup-confirm =
    Isi ulang <b>{ $name }</b>: pemakaian kembali ke 0 (sudah terpakai { $used }), kuota { $limit } tetap?
    Akun yang terkunci aktif kembali.
button-topup-yes = Isi ulang
button-topup-no = Jangan
topup-cancelled = <b>{ $name }</b> dibiarkan seperti semula.
topup-done = <b>{ $name }</b> sudah diisi ulang: terpakai 0 dari { $limit }.
topup-no-limit = <b>{ $name }</b> tidak punya kuota untuk diisi ulang: atur dengan <code>/limit { $name } 10GB</code>.
delete-usage = Kirim namanya: <code>/delete alice</code>
delete-confirm =
    Hapus <b>{ $name }</b> ({ $protocol }, terpakai { $used })?
    Pelanggan di akun ini akan terputus. Tidak bisa dibatalkan.
button-delete-yes = Hapus
button-delete-no = Jangan
delete-cancelled = <b>{ $name }</b> tidak jadi dihapus.
delete-done = <b>{ $name }</b> sudah dihapus.
delete-partial = <b>{ $name }</b>: beberapa langkah gagal. Kirim /delete { $name } lagi untuk menuntaskan.
delete-step-ok = ✅ { $step }
delete-step-failed = ❌ { $step }: { $detail }

## /hosts dan /deleted

hosts-header = <b>Host terakhir</b>{ $filter }
hosts-filter = {" "}yang cocok dengan “{ $filter }”
hosts-line = <code>{ $host }</code> · { $service } · { $ip } · { $account } · ×{ $count } · { $time }
hosts-empty = Belum ada host yang tercatat.
deleted-header = <b>Akun yang terakhir dihapus</b>
deleted-line = { $time } · <b>{ $name }</b> · { $protocol } · { $details }
deleted-empty = Belum ada akun yang dihapus.

## /status

status-text =
    <b>Status kuota</b>
    Worker: hidup { $uptime } (pid { $pid })
    Engine: { $engine }
    Akun: { $present } ada dari { $total }
    Polling terakhir: { $lastPoll } · { $pollMs } ms · { $polls } kali · { $restarts } kali engine restart
    SSH: { $ssh }
    Tangkap host: { $capture }
status-engine-up = { $flavor }, terhubung
status-engine-down = tidak terhubung
status-ssh-on = { $sessions } sesi aktif
status-capture-on = { $hosts } host, { $records } catatan, { $lost } hilang
status-off = mati ({ $reason })
status-not-running = tidak berjalan

## /language

language-choose = Pilih bahasa:
language-set = Saya akan berbahasa Indonesia dengan Anda.

## Mode inline

inline-description = { $protocol } · { $used } / { $limit }{ $percent }

## /cancel

cancel-done = Dibatalkan.
cancel-nothing = Tidak ada yang perlu dibatalkan.

## /adduser

add-ask-protocol = Protokol apa?
add-ask-name = Nama akunnya? (a-z, 0-9, titik, garis bawah, tanda hubung; maksimal 32)
add-ask-password = Kata sandi SSH? Kirim sendiri, atau tekan Buatkan.
add-ask-limit = Kuotanya? Tekan tombol atau kirim ukuran seperti 20GB.
add-ask-days = Berlaku berapa hari? Tekan tombol atau kirim angka.
add-button-generate = Buatkan
add-button-never = Tanpa batas waktu
add-days-button = { $days } hari
add-protocol-invalid = Tekan salah satu tombol, atau kirim ssh, vmess, vless, trojan atau shadowsocks.
add-answer-first = Jawab pertanyaan di atas dulu, atau kirim /cancel untuk keluar.
add-creating = Membuat <b>{ $name }</b>…
add-failed = Gagal membuat <b>{ $name }</b>: { $reason }
add-created =
    ✅ <b>{ $name }</b> · { $protocol } sudah dibuat
    Kuota: { $limit } · Kedaluwarsa: { $expires }
add-connection = <b>Koneksi</b> (ketuk untuk menyalin)
add-host = Host: { $host }
add-user = User: { $name }
add-secret-password = Password: { $secret }
add-secret-uuid = UUID: { $secret }
add-method = Metode: { $method }
add-endpoint = { $tag }: port { $port }, { $network }{ $path }{ $tls }
add-links = <b>Link</b>
add-notes = ⚠️ <b>Catatan</b>
add-note = • { $note }

## Notifikasi

push-header =
    { $count ->
        [one] ⚠️ <b>1 akun</b> berubah
       *[other] ⚠️ <b>{ $count } akun</b> berubah
    }
event-deleted = 🗑 <b>{ $name }</b> · { $protocol } dihapus — { $used } / { $limit } · { $reason } · { $time }
event-locked = 🔒 <b>{ $name }</b> · { $protocol } dikunci — { $used } / { $limit } · { $reason } · { $time }
button-topup-named = Isi ulang { $name }
button-renew-named = Perpanjang { $name } +{ $days } hari
reason-quota = kuota habis
reason-expired = masa aktif habis

## Tombol bahasa (masing-masing dalam bahasanya sendiri, sama di setiap file)

language-button-en = English
language-button-id = Bahasa Indonesia
