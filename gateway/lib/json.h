/* JSON strings for the documents the status server writes. */
#ifndef N4M_JSON_H
#define N4M_JSON_H

struct evbuffer;

/* A JSON string literal of s: quotes, and escapes where JSON needs them. */
void json_string(struct evbuffer *out, const char *s);

#endif
