/* Dropping privileges after start-up: every capability but those a role needs, and root itself with --user. */
#include "privs.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "gateway/lib/log.h"

static int caps_get(uint64_t *effective, uint64_t *permitted)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = { { 0 } };

	if (syscall(SYS_capget, &h, d))
		return -errno;
	*effective = (uint64_t)d[1].effective << 32 | d[0].effective;
	*permitted = (uint64_t)d[1].permitted << 32 | d[0].permitted;
	return 0;
}

static int caps_set(uint64_t keep)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = { { 0 } };

	d[0].effective = d[0].permitted = (uint32_t)keep;
	d[1].effective = d[1].permitted = (uint32_t)(keep >> 32);
	return syscall(SYS_capset, &h, d) ? -errno : 0;
}

/* The bounding set caps what any later exec could regain; dropping needs CAP_SETPCAP. */
static void bounding_drop(uint64_t keep)
{
	for (int cap = 0; cap < 64 && prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
		if (!(keep >> cap & 1) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) && errno != EINVAL)
			log_debug(
				"privileges: cannot drop capability %d from the bounding set", cap);
}

static int switch_user(const char *user)
{
	struct passwd *pw = getpwnam(user);

	if (!pw)
		return -ENOENT;
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) || setgroups(0, NULL) || setgid(pw->pw_gid) ||
		setuid(pw->pw_uid))
		return -errno;
	return 0;
}

int privs_drop(uint64_t keep, const char *user)
{
	uint64_t effective = 0, permitted = 0;
	int err;

	if ((err = caps_get(&effective, &permitted)))
		return err;
	if (!permitted && geteuid() != 0)
		return 0; /* nothing to drop */
	bounding_drop(keep);
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (user[0] && geteuid() == 0 && (err = switch_user(user)))
		return err;
	if ((err = caps_set(keep & permitted)))
		return err;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	return 0;
}
