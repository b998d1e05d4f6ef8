/* JSON strings for the documents the status server writes. */
#include "json.h"

#include <event2/buffer.h>

void json_string(struct evbuffer *out, const char *s)
{
	evbuffer_add(out, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			evbuffer_add_printf(out, "\\%c", c);
		else if (c < 0x20)
			evbuffer_add_printf(out, "\\u%04x", c);
		else
			evbuffer_add(out, s, 1);
	}
	evbuffer_add(out, "\"", 1);
}
