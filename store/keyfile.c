/* keyfile.c - reading and writing the secret key file (see keyfile.h and docs/KEYS.md).
 *
 * The parser is pure: it works on a buffer in place and never copies the secret text.  The file
 * buffer itself is sodium_malloc()ed, and so is every buffer that holds the secret in any form
 * (file text, decoded bytes); sodium_free() zeroes them.  sodium_init() comes first each time, as
 * sodium_malloc() needs it; it is idempotent.
 *
 * Symlinks: load follows them, as ssh does, and checks the mode of the file actually opened
 * (fstat on the open descriptor, so there is no window between check and read).  Save replaces the
 * path itself by rename(), so with force a symlink at path is replaced, never written through.
 */
#include "store/keyfile.h"
#include "node/base/secmem.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/transport/keytext.h"

static const char header[] = "# konce secret key v1 - keep private";
static const char header_family[] = "# konce secret key v"; /* a header from another version */
static const char secret_tag[] = "secret: ";
static const char public_tag[] = "public: ";

#define LIT_LEN(s) (sizeof(s) - 1)

_Static_assert(KONCE_KEYFILE_LEN == LIT_LEN(header) + 1 + 2 * (LIT_LEN(secret_tag) + KONCE_KEY_TEXT_LEN + 1),
	       "KONCE_KEYFILE_LEN must match the format");
_Static_assert(LIT_LEN(secret_tag) == LIT_LEN(public_tag), "tags are the same length");

static void seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || !errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

struct cursor {
	const char *p;
	size_t left;
	unsigned lineno;
};

/* The next line, without its "\n".  False at the end of the input. */
static bool next_line(struct cursor *c, const char **line, size_t *len)
{
	if (c->left == 0)
		return false;
	const char *nl = memchr(c->p, '\n', c->left);
	size_t n = nl ? (size_t)(nl - c->p) : c->left;
	size_t step = n + (nl ? 1 : 0);
	*line = c->p;
	*len = n;
	c->p += step;
	c->left -= step;
	c->lineno++;
	return true;
}

static bool has_prefix(const char *line, size_t len, const char *prefix, size_t plen)
{
	return len >= plen && memcmp(line, prefix, plen) == 0;
}

/* Checks that line is "<tag><43 characters>" and returns the key text's start in *text. */
static int tagged_line(struct cursor *c, const char *tag, const char *what, const char **text, char *err,
		       size_t errlen)
{
	const char *line;
	size_t len;
	if (!next_line(c, &line, &len)) {
		seterr(err, errlen, "line %u: missing the %s line ('%s' and the key)", c->lineno + 1, what, tag);
		return -EINVAL;
	}
	if (len > 0 && line[len - 1] == '\r') {
		seterr(err, errlen, "line %u: CRLF line ending; konce key files use LF (\\n) line ends",
		       c->lineno);
		return -EINVAL;
	}
	if (!has_prefix(line, len, tag, LIT_LEN(secret_tag))) {
		seterr(err, errlen, "line %u: expected the %s line, starting '%s'", c->lineno, what, tag);
		return -EINVAL;
	}
	if (len - LIT_LEN(secret_tag) != KONCE_KEY_TEXT_LEN) {
		seterr(err, errlen, "line %u: the %s key must be %d characters of key text, not %zu", c->lineno,
		       what, KONCE_KEY_TEXT_LEN, len - LIT_LEN(secret_tag));
		return -EINVAL;
	}
	*text = line + LIT_LEN(secret_tag);
	return 0;
}

int konce_keyfile_parse(const char *buf, size_t len, uint8_t pub[KONCE_KEY_BYTES], konce_identity **out,
			char *err, size_t errlen)
{
	struct cursor c = {buf, len, 0};
	const char *line, *secret_text, *public_text;
	size_t n;
	int r;

	if (!next_line(&c, &line, &n)) {
		seterr(err, errlen, "empty file");
		return -EINVAL;
	}
	if (n != LIT_LEN(header) || memcmp(line, header, n) != 0) {
		if (n == LIT_LEN(header) + 1 && memcmp(line, header, LIT_LEN(header)) == 0 && line[n - 1] == '\r')
			seterr(err, errlen, "line 1: CRLF line ending; konce key files use LF (\\n) line ends");
		else if (has_prefix(line, n, header_family, LIT_LEN(header_family)))
			seterr(err, errlen, "line 1: unsupported key file version (this konce reads '%s')", header);
		else
			seterr(err, errlen, "line 1: not a konce key file (expected '%s')", header);
		return -EINVAL;
	}
	if ((r = tagged_line(&c, secret_tag, "secret", &secret_text, err, errlen)) ||
	    (r = tagged_line(&c, public_tag, "public", &public_text, err, errlen)))
		return r;
	if (c.left != 0) {
		seterr(err, errlen, "line %u: unexpected text after the public line", c.lineno + 1);
		return -EINVAL;
	}
	if (konce_key_decode_(pub, public_text, KONCE_KEY_TEXT_LEN) != 0) {
		seterr(err, errlen, "line 3: the public key is not valid key text");
		return -EINVAL;
	}
	if (!out)
		return 0;

	int lockerr;
	uint8_t *secret = konce_secmem_alloc(KONCE_KEY_BYTES, &lockerr);
	if (!secret)
		return lockerr;
	konce_identity *id = NULL;
	if (konce_key_decode_(secret, secret_text, KONCE_KEY_TEXT_LEN) != 0) {
		seterr(err, errlen, "line 2: the secret key is not valid key text");
		r = -EINVAL;
	} else if ((secret[0] & 7) != 0 || (secret[31] & 0xc0) != 0x40) {
		/* konce writes the secret clamped; refusing other forms keeps one file text per key */
		seterr(err, errlen, "line 2: the secret key is not clamped as X25519 requires");
		r = -EINVAL;
	} else {
		r = konce_identity_from_secret(&id, secret);
	}
	konce_secmem_free(secret, KONCE_KEY_BYTES);
	if (r)
		return r;
	if (sodium_memcmp(konce_identity_public(id), pub, KONCE_KEY_BYTES) != 0) {
		konce_identity_free(id);
		seterr(err, errlen, "line 3: the public key does not match the secret key (was the file edited?)");
		return -EINVAL;
	}
	*out = id;
	return 0;
}

size_t konce_keyfile_format(char *buf, const konce_identity *id)
{
	char *p = buf;
	memcpy(p, header, LIT_LEN(header));
	p += LIT_LEN(header);
	*p++ = '\n';
	memcpy(p, secret_tag, LIT_LEN(secret_tag));
	p += LIT_LEN(secret_tag);
	konce_key_to_text(p, konce_identity_secret_(id));
	p += KONCE_KEY_TEXT_LEN;
	*p++ = '\n';
	memcpy(p, public_tag, LIT_LEN(public_tag));
	p += LIT_LEN(public_tag);
	konce_key_to_text(p, konce_identity_public(id));
	p += KONCE_KEY_TEXT_LEN;
	*p++ = '\n';
	*p = '\0';
	return (size_t)(p - buf);
}

/* Opens path and reads it whole into a konce_secmem buffer of KONCE_KEYFILE_MAX + 1 (the caller frees it),
 * enforcing the file type, mode and size rules. */
static int read_keyfile(const char *path, char **bufp, size_t *lenp, char *err, size_t errlen)
{
	/* O_NONBLOCK: opening a FIFO must not hang before fstat can refuse it */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT)
			seterr(err, errlen, "%s: no such key file", path);
		else
			seterr(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	struct stat st;
	int r = 0;
	char *buf = NULL;
	size_t len = 0;
	if (fstat(fd, &st) != 0) {
		r = -errno;
		seterr(err, errlen, "%s: %s", path, strerror(-r));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		seterr(err, errlen, "%s: not a regular file", path);
		r = -EINVAL;
		goto out;
	}
	if (st.st_mode & 077) {
		seterr(err, errlen,
		       "%s: permissions %04o are too open: group or others can access this secret key, so it "
		       "is refused; fix with: chmod 600 %s",
		       path, (unsigned)(st.st_mode & 07777), path);
		r = -EACCES;
		goto out;
	}
	if (st.st_size > KONCE_KEYFILE_MAX) {
		seterr(err, errlen, "%s: %lld bytes, too large for a key file (at most %d)", path,
		       (long long)st.st_size, KONCE_KEYFILE_MAX);
		r = -EFBIG;
		goto out;
	}
	buf = konce_secmem_alloc(KONCE_KEYFILE_MAX + 1, &r);
	if (!buf) {
		seterr(err, errlen, "%s: cannot lock memory for the key: %s", path, strerror(-r));
		goto out;
	}
	/* read one byte past the limit so that a file that grew after fstat is still caught */
	while (len < KONCE_KEYFILE_MAX + 1) {
		ssize_t got = read(fd, buf + len, KONCE_KEYFILE_MAX + 1 - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = -errno;
			seterr(err, errlen, "%s: %s", path, strerror(-r));
			goto out;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	if (len > KONCE_KEYFILE_MAX) {
		seterr(err, errlen, "%s: too large for a key file (at most %d bytes)", path, KONCE_KEYFILE_MAX);
		r = -EFBIG;
	}
out:
	close(fd);
	if (r) {
		konce_secmem_free(buf, KONCE_KEYFILE_MAX + 1);
		return r;
	}
	*bufp = buf;
	*lenp = len;
	return 0;
}

static int load(const char *path, uint8_t pub[KONCE_KEY_BYTES], konce_identity **out, char *err,
		size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	int r = read_keyfile(path, &buf, &len, err, errlen);
	if (r)
		return r;
	char msg[160] = "";
	r = konce_keyfile_parse(buf, len, pub, out, msg, sizeof(msg));
	konce_secmem_free(buf, KONCE_KEYFILE_MAX + 1);
	if (r == -ENOMEM)
		seterr(err, errlen, "%s: out of memory", path);
	else if (r)
		seterr(err, errlen, "%s: %s", path, msg);
	return r;
}

int konce_keyfile_load(const char *path, konce_identity **out, char *err, size_t errlen)
{
	uint8_t pub[KONCE_KEY_BYTES];
	return load(path, pub, out, err, errlen);
}

int konce_keyfile_load_public(const char *path, uint8_t pub[KONCE_KEY_BYTES], char *err, size_t errlen)
{
	return load(path, pub, NULL, err, errlen);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Moves tmp to path; without force fails with -EEXIST if path exists, atomically. */
static int install(const char *tmp, const char *path, bool force)
{
	if (force)
		return rename(tmp, path) == 0 ? 0 : -errno;
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	/* the file system lacks RENAME_NOREPLACE: link() also refuses to replace */
	if (link(tmp, path) != 0)
		return -errno;
	unlink(tmp);
	return 0;
}

/* fsync the directory holding path, so that the rename itself survives a crash. */
static int sync_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
	if (!dir)
		return -ENOMEM;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (fd < 0)
		return -errno;
	int r = fsync(fd) == 0 || errno == EINVAL ? 0 : -errno; /* EINVAL: fs cannot sync directories */
	close(fd);
	return r;
}

int konce_keyfile_save(const char *path, const konce_identity *id, bool force)
{
	struct stat st;
	if (!force && lstat(path, &st) == 0)
		return -EEXIST; /* early and cheap; install() makes the final check atomically */

	size_t plen = strlen(path);
	char *tmp = malloc(plen + sizeof(".tmp-XXXXXX"));
	if (!tmp)
		return -ENOMEM;
	memcpy(tmp, path, plen);
	memcpy(tmp + plen, ".tmp-XXXXXX", sizeof(".tmp-XXXXXX"));
	int fd = mkostemp(tmp, O_CLOEXEC); /* creates the file 0600, O_EXCL */
	if (fd < 0) {
		int e = errno;
		free(tmp);
		return -e;
	}
	int r = fchmod(fd, 0600) == 0 ? 0 : -errno;
	int lockerr = 0;
	char *text = r ? NULL : konce_secmem_alloc(KONCE_KEYFILE_LEN + 1, &lockerr);
	if (!text && !r)
		r = lockerr;
	if (!r) {
		size_t n = konce_keyfile_format(text, id);
		r = write_all(fd, text, n);
	}
	konce_secmem_free(text, KONCE_KEYFILE_LEN + 1);
	if (!r && fsync(fd) != 0)
		r = -errno;
	if (close(fd) != 0 && !r)
		r = -errno;
	if (!r)
		r = install(tmp, path, force);
	if (r)
		unlink(tmp);
	else
		r = sync_dir(path);
	free(tmp);
	return r;
}
