/* The frames of a tcpx or kcpx flow: our stream extension between our own peers (docs/protocol.md). */
#include "frame.h"

#include <errno.h>

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* The length of a frame's fixed part; 0 for an unknown type. */
static size_t frame_fixed_len(uint8_t type)
{
	switch (type) {
	case FRAME_WINDOW:
		return 13;
	case FRAME_RESULT:
		return 10;
	case FRAME_OPEN:
	case FRAME_DATA:
	case FRAME_PROBE:
	case FRAME_END:
	case FRAME_END_ACK:
		return 9;
	case FRAME_ABORT:
		return 2;
	case FRAME_KCP:
	case FRAME_ABORT_ACK:
		return 1;
	}
	return 0;
}

int frame_parse(const uint8_t *p, size_t len, struct frame *fr)
{
	size_t fixed = len ? frame_fixed_len(p[0]) : 0;

	if (!fixed || len < fixed)
		return -EINVAL;
	*fr = (struct frame){ .type = (enum frame_type)p[0] };
	switch (fr->type) {
	case FRAME_DATA:
	case FRAME_KCP:
		if (len == fixed)
			return -EINVAL;
		fr->data = p + fixed;
		fr->len = len - fixed;
		break;
	default:
		if (len != fixed)
			return -EINVAL;
	}
	if (fr->type == FRAME_RESULT || fr->type == FRAME_ABORT) {
		if (p[1] > FRAME_RESULT_MAX)
			return -EINVAL;
		fr->code = (enum frame_result)p[1];
	}
	if (fixed == 9 || fixed == 13)
		fr->off = get_u64(p + 1);
	else if (fixed == 10)
		fr->off = get_u64(p + 2);
	if (fixed == 13)
		fr->msgs = get_u32(p + 9);
	return 0;
}

size_t frame_header(uint8_t buf[FRAME_CTL_MAX], const struct frame *fr)
{
	size_t fixed = frame_fixed_len((uint8_t)fr->type);

	buf[0] = (uint8_t)fr->type;
	if (fr->type == FRAME_RESULT || fr->type == FRAME_ABORT)
		buf[1] = (uint8_t)fr->code;
	if (fixed == 9 || fixed == 13)
		put_u64(buf + 1, fr->off);
	else if (fixed == 10)
		put_u64(buf + 2, fr->off);
	if (fixed == 13)
		put_u32(buf + 9, fr->msgs);
	return fixed;
}

const char *frame_result_str(enum frame_result r)
{
	switch (r) {
	case FRAME_OK:
		return "connected";
	case FRAME_REFUSED:
		return "connection refused";
	case FRAME_NET_UNREACHABLE:
		return "network unreachable";
	case FRAME_HOST_UNREACHABLE:
		return "host unreachable";
	case FRAME_TIMED_OUT:
		return "connection timed out";
	case FRAME_NO_NAME:
		return "name not found";
	case FRAME_NOT_ALLOWED:
		return "not allowed by the agent";
	case FRAME_FAILED:
		return "failed at the agent";
	case FRAME_LOST:
		return "a message of the flow was lost";
	}
	return "?";
}
