/* The key commands: net4mqtt genkey and net4mqtt pubkey (as wg genkey and wg pubkey). */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "keycmd.h"
#include "gateway/lib/keys.h"
#include "options.h"

struct keycmd {
	const char *name;
	const char *summary;
	const char *help;
	int (*run)(void);
};

static int print_key(const uint8_t key[KEY_LEN])
{
	char text[KEY_TEXT_LEN + 1];

	keys_encode(text, key);
	int ok = printf("%s\n", text) > 0 && fflush(stdout) == 0;
	sodium_memzero(text, sizeof(text));
	if (!ok)
		perror("net4mqtt: stdout");
	return ok ? 0 : 1;
}

static int genkey(void)
{
	uint8_t priv[KEY_LEN];

	if (keys_init()) {
		fprintf(stderr, "net4mqtt genkey: libsodium cannot start\n");
		return 1;
	}
	keys_generate(priv);
	int rc = print_key(priv);
	sodium_memzero(priv, sizeof(priv));
	return rc;
}

static int pubkey(void)
{
	char text[KEY_TEXT_LEN + 8];
	uint8_t priv[KEY_LEN];
	struct key_pair kp;

	size_t n = fread(text, 1, sizeof(text), stdin);
	int bad = keys_decode(priv, text, n) || keys_pair(&kp, priv);
	sodium_memzero(text, sizeof(text));
	sodium_memzero(priv, sizeof(priv));
	if (bad) {
		fprintf(stderr,
			"net4mqtt pubkey: want a private key on stdin: %d base64 characters "
			"(net4mqtt genkey)\n",
			KEY_TEXT_LEN);
		return 1;
	}
	int rc = print_key(kp.pub);
	keys_wipe(&kp);
	return rc;
}

static const struct keycmd keycmds[] = {
	{ "genkey", "prints a new private key (for encrypted flows, coming)",
		"Usage: net4mqtt genkey [-h|--help]\n"
		"Prints a new private key, base64, on stdout. Keep it from other users:\n"
		"  umask 077; net4mqtt genkey > /etc/net4mqtt/agent.key\n"
		"  net4mqtt pubkey < /etc/net4mqtt/agent.key    # what peers pin\n"
		"Encrypted flows are coming: the keys exist, flows do not use them yet.\n",
		genkey },
	{ "pubkey", "reads a private key on stdin, prints its public key",
		"Usage: net4mqtt pubkey [-h|--help] < PRIVATE_KEY_FILE\n"
		"Prints the public key of the private key read on stdin (net4mqtt genkey's).\n",
		pubkey },
};

static const struct keycmd *find(const char *name)
{
	for (size_t i = 0; i < sizeof(keycmds) / sizeof(keycmds[0]); i++)
		if (!strcmp(keycmds[i].name, name))
			return &keycmds[i];
	return NULL;
}

bool keycmd_is(const char *name)
{
	return find(name) != NULL;
}

int keycmd_main(int argc, char **argv)
{
	const struct keycmd *c = find(argv[0]);

	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs(c->help, stdout);
		return 0;
	}
	if (argc > 1) {
		fprintf(stderr, "net4mqtt %s: unexpected argument %s (net4mqtt %s -h)\n", c->name,
			argv[1], c->name);
		return EXIT_USAGE;
	}
	return c->run();
}

void keycmd_list(FILE *out)
{
	for (size_t i = 0; i < sizeof(keycmds) / sizeof(keycmds[0]); i++)
		fprintf(out, "  %-12s %s\n", keycmds[i].name, keycmds[i].summary);
}
