/* cli.c - helpers shared by the konce subcommands (see cli.h). */
#include "tools/cli.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "tools/paths.h"

int konce_cli_key_file(char *out, size_t len, const char *cmd, const char *opt)
{
	if (opt) {
		if (!opt[0]) {
			fprintf(stderr, "konce %s: -f needs a file name\n", cmd);
			return 1;
		}
		if (strlen(opt) >= len) {
			fprintf(stderr, "konce %s: %s: file name too long\n", cmd, opt);
			return 1;
		}
		strcpy(out, opt);
		return 0;
	}
	int r = konce_paths_identity_file(out, len, NULL);
	if (r == -ENOENT) {
		fprintf(stderr, "konce %s: no default key file location: set HOME or XDG_DATA_HOME, or use -f FILE\n",
			cmd);
		return 1;
	}
	if (r) {
		fprintf(stderr, "konce %s: default key file path: %s\n", cmd, strerror(-r));
		return 1;
	}
	return 0;
}

int konce_cli_print_key(const char *cmd, const uint8_t pub[KONCE_KEY_BYTES], const char *file, bool json)
{
	char text[KONCE_KEY_TEXT_LEN + 1];
	konce_key_to_text(text, pub);
	if (!json) {
		printf("%s\n", text);
	} else {
		/* jansson escapes the file name; it refuses a name that is not UTF-8 */
		json_t *o = json_pack("{s:s, s:s}", "public_key", text, "file", file);
		if (!o) {
			fprintf(stderr, "konce %s: %s: file name is not valid UTF-8, cannot print it as JSON\n", cmd,
				file);
			return 1;
		}
		json_dumpf(o, stdout, JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(o);
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "konce %s: writing to standard output: %s\n", cmd, strerror(errno));
		return 1;
	}
	return 0;
}

const char *konce_cli_bytes(char out[KONCE_CLI_BYTES_LEN], double b, bool binary)
{
	static const char *const si[] = {"B", "kB", "MB", "GB"}, *const bin[] = {"B", "KiB", "MiB", "GiB"};
	double step = binary ? 1024 : 1000;
	int u = 0;
	while (b >= step && u < 3)
		b /= step, u++;
	snprintf(out, KONCE_CLI_BYTES_LEN, u ? "%.1f %s" : "%.0f %s", b, (binary ? bin : si)[u]);
	return out;
}
