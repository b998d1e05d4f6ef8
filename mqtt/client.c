/* libmosquitto driven from the libevent loop: connect, reconnect with backoff, publish with a byte backlog. */
#include "client.h"
#include "url.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <fcntl.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BACKLOG_HIGH (4u << 20) /* stop reading flow sockets above this */
#define BACKLOG_LOW (1u << 20)	/* resume below this */
#define BACKOFF_MIN_MS 200
#define BACKOFF_MAX_MS 5000
#define READ_BURST 64
#define MID_UNKNOWN (-1) /* MQTT packets read per readiness event */

/* QoS 0 publishes are written in the order they were queued, so a FIFO of
 * their sizes, popped by the on_publish callback, tells the unwritten bytes. */
struct pending {
	int mid;
	uint32_t bytes;
};

struct mqtt_client {
	struct event_base *base;
	struct mosquitto *mosq;
	const struct mqtt_url *url;
	const struct mqtt_client_ops *ops;
	void *arg;
	struct event ev_read, ev_write, ev_misc, ev_retry, ev_shutdown, ev_lost;
	bool lost_connected;
	char lost_why[128];
	bool sock_events, write_armed;
	bool connected, congested, shutting_down;
	int sock;
	int backoff_ms;
	int broker;	/* the url's broker tried now, or connected to */
	int broker_set; /* the one libmosquitto was last given; -1: none yet */
	unsigned long attempts, connects;
	struct pending *fifo;
	size_t fifo_cap, fifo_head, fifo_len;
	size_t backlog;
	void (*shutdown_done)(void *arg);
};

static void client_sync_write(struct mqtt_client *c);
static void client_lost(struct mqtt_client *c, const char *why);

__attribute__((format(printf, 3, 4))) static void client_log(
	struct mqtt_client *c, enum mqtt_log_level level, const char *fmt, ...)
{
	va_list ap;

	if (!c->ops->on_log)
		return;
	va_start(ap, fmt);
	c->ops->on_log(c->arg, level, fmt, ap);
	va_end(ap);
}

bool mqtt_client_connected(const struct mqtt_client *c)
{
	return c->connected;
}

bool mqtt_client_congested(const struct mqtt_client *c)
{
	return c->congested;
}

size_t mqtt_client_backlog(const struct mqtt_client *c)
{
	return c->backlog;
}

const struct mqtt_broker *mqtt_client_broker(const struct mqtt_client *c)
{
	return &c->url->brokers[c->broker];
}

unsigned long mqtt_client_reconnects(const struct mqtt_client *c)
{
	return c->connects ? c->connects - 1 : 0;
}

static int fifo_push(struct mqtt_client *c, int mid, size_t bytes)
{
	if (c->fifo_len == c->fifo_cap) {
		size_t ncap = c->fifo_cap ? c->fifo_cap * 2 : 256;
		struct pending *n = malloc(ncap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		for (size_t i = 0; i < c->fifo_len; i++)
			n[i] = c->fifo[(c->fifo_head + i) % c->fifo_cap];
		free(c->fifo);
		c->fifo = n;
		c->fifo_cap = ncap;
		c->fifo_head = 0;
	}
	c->fifo[(c->fifo_head + c->fifo_len) % c->fifo_cap] =
		(struct pending){ mid, (uint32_t)bytes };
	c->fifo_len++;
	c->backlog += bytes;
	if (c->backlog > BACKLOG_HIGH)
		c->congested = true;
	return 0;
}

static void backlog_update(struct mqtt_client *c)
{
	if (c->congested && c->backlog < BACKLOG_LOW) {
		c->congested = false;
		if (c->ops->on_drain)
			c->ops->on_drain(c->arg);
	}
}

static void fifo_reset(struct mqtt_client *c)
{
	c->fifo_len = 0;
	c->fifo_head = 0;
	c->backlog = 0;
	backlog_update(c);
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid)
{
	struct mqtt_client *c = obj;
	(void)mosq;

	if (c->fifo_len == 0)
		return;
	int front = c->fifo[c->fifo_head].mid;
	if (front != mid && front != MID_UNKNOWN)
		return; /* a QoS 1 status message, acknowledged */
	c->backlog -= c->fifo[c->fifo_head].bytes;
	c->fifo_head = (c->fifo_head + 1) % c->fifo_cap;
	c->fifo_len--;
	backlog_update(c);
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
	struct mqtt_client *c = obj;
	(void)mosq;

	if (rc) {
		client_log(c, MQTT_LOG_WARN, "mqtt: broker %s:%u refused the connection: %s",
			mqtt_client_broker(c)->host, mqtt_client_broker(c)->port,
			mosquitto_connack_string(rc));
		return; /* libmosquitto drops the socket; on_disconnect schedules the retry */
	}
	client_log(c, MQTT_LOG_INFO, "mqtt: connected to %s:%u", mqtt_client_broker(c)->host,
		mqtt_client_broker(c)->port);
	c->connected = true;
	c->connects++;
	c->backoff_ms = BACKOFF_MIN_MS;
	c->ops->on_connect(c->arg);
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
	struct mqtt_client *c = obj;
	(void)mosq;

	if (c->shutting_down && rc == 0) {
		event_active(&c->ev_shutdown, EV_TIMEOUT, 0);
		return;
	}
	client_lost(c, rc ? mosquitto_strerror(rc) : "disconnected");
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *m)
{
	struct mqtt_client *c = obj;
	(void)mosq;

	c->ops->on_message(c->arg, m->topic, m->payload, (size_t)m->payloadlen);
}

/* libmosquitto's own errors (OpenSSL's reasons among them) go to our log. */
static void on_log(struct mosquitto *mosq, void *obj, int level, const char *msg)
{
	struct mqtt_client *c = obj;
	(void)mosq;

	if (level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING))
		client_log(c, MQTT_LOG_WARN, "mqtt: %s", msg);
	else
		client_log(c, MQTT_LOG_TRACE, "mqtt: %s", msg);
}

static void sock_events_del(struct mqtt_client *c)
{
	if (!c->sock_events)
		return;
	event_del(&c->ev_read);
	event_del(&c->ev_write);
	close(c->sock);
	c->sock = -1;
	c->sock_events = false;
	c->write_armed = false;
}

static void schedule_retry(struct mqtt_client *c)
{
	struct timeval tv = { c->backoff_ms / 1000, (c->backoff_ms % 1000) * 1000 };

	evtimer_add(&c->ev_retry, &tv);
	c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
}

/* The socket is gone: forget the backlog now; tell the owner and schedule the
 * retry from the loop, never from inside a caller's publish. */
static void client_lost(struct mqtt_client *c, const char *why)
{
	sock_events_del(c);
	if (c->connected)
		c->lost_connected = true;
	c->connected = false;
	fifo_reset(c);
	if (c->shutting_down) {
		event_active(&c->ev_shutdown, EV_TIMEOUT, 0);
		return;
	}
	if (evtimer_pending(&c->ev_retry, NULL) || event_pending(&c->ev_lost, EV_TIMEOUT, NULL))
		return;
	snprintf(c->lost_why, sizeof(c->lost_why), "%s", why);
	event_active(&c->ev_lost, EV_TIMEOUT, 0);
}

static void lost_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mqtt_client *c = arg;
	const struct mqtt_broker *b = mqtt_client_broker(c);
	char next[MQTT_URL_FIELD + 16] = "";
	(void)fd, (void)what;

	/* several brokers (a cluster's nodes): the next one in the list, round robin */
	if (c->url->n_brokers > 1) {
		c->broker = (c->broker + 1) % c->url->n_brokers;
		mqtt_url_brokers_str(c->url, c->broker, next, sizeof(next));
	}
	if (c->lost_connected) {
		c->lost_connected = false;
		client_log(c, MQTT_LOG_WARN, "mqtt: lost connection to %s:%u: %s; reconnecting%s%s",
			b->host, b->port, c->lost_why, next[0] ? " to " : "", next);
		c->ops->on_disconnect(c->arg);
	} else {
		client_log(c, MQTT_LOG_WARN, "mqtt: cannot connect to %s:%u: %s; %s%s in %d ms",
			b->host, b->port, c->lost_why, next[0] ? "trying " : "retrying", next,
			c->backoff_ms);
	}
	schedule_retry(c);
}

static void handle_rc(struct mqtt_client *c, int rc)
{
	if (rc == MOSQ_ERR_SUCCESS)
		return;
	if (rc == MOSQ_ERR_ERRNO)
		client_lost(c, strerror(errno));
	else
		client_lost(c, mosquitto_strerror(rc));
}

/* The broker's Nagle holds a small packet back until its last one is acknowledged,
 * and Linux delays that acknowledgement up to 40 ms (a stock mosquitto does not set
 * TCP_NODELAY): each small exchange through the tunnel would wait for it. Quick-ack
 * mode, which the kernel leaves again by itself, is set anew after every read. */
static void ack_now(struct mqtt_client *c)
{
	int one = 1;

	if (c->sock_events)
		setsockopt(c->sock, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
}

static void read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mqtt_client *c = arg;
	(void)fd, (void)what;

	for (int i = 0; i < READ_BURST && c->sock_events; i++) {
		errno = 0;
		int rc = mosquitto_loop_read(c->mosq, 1);
		if (rc) {
			handle_rc(c, rc);
			return;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
	}
	ack_now(c);
	client_sync_write(c);
}

static void write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mqtt_client *c = arg;
	(void)fd, (void)what;

	int rc = mosquitto_loop_write(c->mosq, 1);
	if (rc) {
		handle_rc(c, rc);
		return;
	}
	client_sync_write(c);
}

/* Arms the write event exactly while libmosquitto has bytes it could not write. */
static void client_sync_write(struct mqtt_client *c)
{
	if (!c->sock_events)
		return;
	if (mosquitto_want_write(c->mosq)) {
		if (!c->write_armed) {
			event_add(&c->ev_write, NULL);
			c->write_armed = true;
		}
	} else if (c->write_armed) {
		event_del(&c->ev_write);
		c->write_armed = false;
	}
}

static void misc_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mqtt_client *c = arg;
	(void)fd, (void)what;

	if (!c->sock_events)
		return;
	int rc = mosquitto_loop_misc(c->mosq);
	if (rc) {
		handle_rc(c, rc);
		return;
	}
	client_sync_write(c);
}

static int sock_events_add(struct mqtt_client *c)
{
	/* The events watch a copy of libmosquitto's descriptor: it closes its own when the
	 * connection drops, before we hear of it, and epoll would then be told about a
	 * closed descriptor (libevent prints a warning of its own for the write event). */
	int fd = mosquitto_socket(c->mosq);
	if (fd < 0)
		return -ENOTCONN;
	c->sock = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (c->sock < 0)
		return -errno;
	event_assign(&c->ev_read, c->base, c->sock, EV_READ | EV_PERSIST, read_cb, c);
	event_assign(&c->ev_write, c->base, c->sock, EV_WRITE | EV_PERSIST, write_cb, c);
	event_add(&c->ev_read, NULL);
	c->sock_events = true;
	/* the CONNECT packet waits for the socket to become writable */
	event_add(&c->ev_write, NULL);
	c->write_armed = true;
	return 0;
}

static void connect_now(struct mqtt_client *c)
{
	const struct mqtt_broker *b = mqtt_client_broker(c);
	int rc;

	c->attempts++;
	if (c->ops->will) {
		struct mqtt_will w;
		c->ops->will(c->arg, &w);
		if (mosquitto_will_set(c->mosq, w.topic, (int)w.len, w.payload, 1, true)) {
			client_lost(c, "cannot set the will");
			return;
		}
	}
	if (c->broker_set != c->broker) { /* the first attempt, or another broker of the list */
		rc = mosquitto_connect_async(c->mosq, b->host, b->port, c->url->keepalive);
		c->broker_set = c->broker;
	} else {
		rc = mosquitto_reconnect_async(c->mosq);
	}
	int err = rc == MOSQ_ERR_SUCCESS ? sock_events_add(c) : 0;
	if (rc == MOSQ_ERR_SUCCESS && !err)
		return;
	if (err)
		client_lost(c, strerror(-err)); /* no descriptor for the copy */
	else
		client_lost(c, rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	connect_now(arg);
}

static void shutdown_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mqtt_client *c = arg;
	(void)fd, (void)what;

	sock_events_del(c);
	evtimer_del(&c->ev_retry);
	evtimer_del(&c->ev_shutdown);
	c->connected = false;
	if (c->shutdown_done) {
		void (*done)(void *) = c->shutdown_done;
		c->shutdown_done = NULL;
		done(c->arg);
	}
}

void mqtt_client_shutdown(struct mqtt_client *c, void (*done)(void *arg))
{
	struct timeval tv = { 1, 0 };

	c->shutting_down = true;
	c->shutdown_done = done;
	evtimer_del(&c->ev_retry);
	if (!c->connected) {
		event_active(&c->ev_shutdown, EV_TIMEOUT, 0);
		return;
	}
	evtimer_add(&c->ev_shutdown, &tv);
	mosquitto_disconnect(c->mosq);
	client_sync_write(c);
}

/* libmosquitto 2.0 always sends the host it connects to as the SNI name (net_mosq.c,
 * net__socket_connect_step3) and has no option for another; OpenSSL calls this before it
 * writes the ClientHello, on the SSL libmosquitto made from our SSL_CTX. */
static void sni_info_cb(const SSL *ssl, int where, int ret)
{
	struct mqtt_client *c = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	long verify = SSL_get_verify_result(ssl);
	(void)ret;

	if (where & SSL_CB_HANDSHAKE_START)
		SSL_set_tlsext_host_name((SSL *)ssl, c->url->sni);
	/* libmosquitto says "certificate verify failed"; OpenSSL knows why */
	if ((where & SSL_CB_ALERT) && (where & SSL_CB_WRITE) && verify != X509_V_OK)
		client_log(c, MQTT_LOG_WARN, "mqtt: the broker's certificate (sni %s): %s",
			c->url->sni, X509_verify_cert_error_string(verify));
}

/* --sni NAME: an SSL_CTX of ours, set up wholly here, as libmosquitto 2.0.11 would (CA, client
 * certificate, TLS version) but checking the certificate against NAME, not the connect host.
 * Not MOSQ_OPT_SSL_CTX_WITH_DEFAULTS: with a caller's SSL_CTX, 2.0.11 never allocates the
 * ex_data index its verify callback finds the client by, and that callback then refuses every
 * certificate. Returns NULL with *why set. */
static SSL_CTX *sni_ctx_new(const struct mqtt_url *u, struct mqtt_client *c, const char **why)
{
	const char *cafile = u->cafile[0] ? u->cafile : NULL;
	const char *capath = u->capath[0] ? u->capath : NULL;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!cafile && !capath)
		capath = "/etc/ssl/certs"; /* the system CA store */
	*why = "out of memory";
	if (!ctx)
		return NULL;
	SSL_CTX_set_app_data(ctx, c);
	SSL_CTX_set_info_callback(ctx, sni_info_cb);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (!SSL_CTX_set_min_proto_version(
		    ctx, strcmp(u->tls_version, "tlsv1.3") ? TLS1_2_VERSION : TLS1_3_VERSION))
		goto err_free;
	*why = "cannot load the CA certificates";
	if (SSL_CTX_load_verify_locations(ctx, cafile, capath) != 1)
		goto err_free;
	*why = "cannot load the client certificate and key";
	if (u->cert[0] && SSL_CTX_use_certificate_chain_file(ctx, u->cert) != 1)
		goto err_free;
	if (u->key[0] && (SSL_CTX_use_PrivateKey_file(ctx, u->key, SSL_FILETYPE_PEM) != 1 ||
				 SSL_CTX_check_private_key(ctx) != 1))
		goto err_free;
	*why = "out of memory";
	X509_VERIFY_PARAM *param = SSL_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (!u->insecure && !X509_VERIFY_PARAM_set1_host(param, u->sni, 0))
		goto err_free;
	return ctx;

err_free:
	SSL_CTX_free(ctx);
	return NULL;
}

static int client_configure_sni(struct mqtt_client *c)
{
	const char *why;
	SSL_CTX *ctx = sni_ctx_new(c->url, c, &why);
	int rc;

	if (!ctx) {
		client_log(c, MQTT_LOG_WARN, "mqtt: TLS setup for sni %s failed: %s", c->url->sni,
			why);
		return -EINVAL;
	}
	rc = mosquitto_void_option(c->mosq, MOSQ_OPT_SSL_CTX, ctx);
	SSL_CTX_free(ctx); /* libmosquitto holds a reference of its own */
	if (rc || mosquitto_int_option(c->mosq, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 0))
		return -EINVAL;
	return 0;
}

static int client_configure_tls(struct mqtt_client *c)
{
	const struct mqtt_url *u = c->url;
	const char *cafile = u->cafile[0] ? u->cafile : NULL;
	const char *capath = u->capath[0] ? u->capath : NULL;

	if (!cafile && !capath)
		capath = "/etc/ssl/certs"; /* the system CA store */
	int rc = mosquitto_tls_set(c->mosq, cafile, capath, u->cert[0] ? u->cert : NULL,
		u->key[0] ? u->key : NULL, NULL);
	if (rc) {
		client_log(c, MQTT_LOG_WARN, "mqtt: TLS setup failed: %s", mosquitto_strerror(rc));
		return -EINVAL;
	}
	if (u->insecure)
		mosquitto_tls_insecure_set(c->mosq, true);
	/* SSL_VERIFY_PEER, as mosquitto_new sets it; "tlsv1.2" is 1.2 or newer, "tlsv1.3" 1.3 only */
	if (u->tls_version[0] &&
		(rc = mosquitto_tls_opts_set(c->mosq, SSL_VERIFY_PEER, u->tls_version, NULL))) {
		client_log(c, MQTT_LOG_WARN, "mqtt: TLS version %s: %s", u->tls_version,
			mosquitto_strerror(rc));
		return -EINVAL;
	}
	return u->sni[0] ? client_configure_sni(c) : 0;
}

static int client_configure(struct mqtt_client *c, const struct mqtt_will *will)
{
	const struct mqtt_url *u = c->url;

	mosquitto_int_option(c->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
	mosquitto_int_option(c->mosq, MOSQ_OPT_TCP_NODELAY, 1);
	if (u->user[0] &&
		mosquitto_username_pw_set(c->mosq, u->user, u->has_password ? u->password : NULL))
		return -ENOMEM;
	if (u->tls && client_configure_tls(c))
		return -EINVAL;
	if (will &&
		mosquitto_will_set(c->mosq, will->topic, (int)will->len, will->payload, 1, true))
		return -EINVAL;
	mosquitto_connect_callback_set(c->mosq, on_connect);
	mosquitto_disconnect_callback_set(c->mosq, on_disconnect);
	mosquitto_message_callback_set(c->mosq, on_message);
	mosquitto_publish_callback_set(c->mosq, on_publish);
	mosquitto_log_callback_set(c->mosq, on_log);
	return 0;
}

int mqtt_client_new(struct event_base *base, const struct mqtt_url *url, const char *client_id,
	const struct mqtt_will *will, const struct mqtt_client_ops *ops, void *arg,
	struct mqtt_client **out)
{
	static bool lib_ready;
	struct mqtt_client *c;

	if (!lib_ready) {
		mosquitto_lib_init();
		lib_ready = true;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->base = base;
	c->url = url;
	c->ops = ops;
	c->arg = arg;
	c->sock = -1;
	c->backoff_ms = BACKOFF_MIN_MS;
	c->broker_set = -1;
	c->mosq = mosquitto_new(client_id, true, c);
	if (!c->mosq)
		goto err_free;
	if (client_configure(c, will))
		goto err_destroy;
	evtimer_assign(&c->ev_retry, base, retry_cb, c);
	evtimer_assign(&c->ev_shutdown, base, shutdown_cb, c);
	event_assign(&c->ev_lost, base, -1, 0, lost_cb, c);
	event_assign(&c->ev_misc, base, -1, EV_PERSIST, misc_cb, c);
	struct timeval second = { 1, 0 };
	event_add(&c->ev_misc, &second);
	*out = c;
	return 0;

err_destroy:
	mosquitto_destroy(c->mosq);
err_free:
	free(c);
	return -EINVAL;
}

int mqtt_client_start(struct mqtt_client *c)
{
	connect_now(c);
	return 0;
}

void mqtt_client_free(struct mqtt_client *c)
{
	if (!c)
		return;
	sock_events_del(c);
	event_del(&c->ev_misc);
	evtimer_del(&c->ev_retry);
	evtimer_del(&c->ev_shutdown);
	event_del(&c->ev_lost);
	mosquitto_destroy(c->mosq);
	free(c->fifo);
	free(c);
}

int mqtt_client_subscribe(struct mqtt_client *c, const char *pattern)
{
	int rc = mosquitto_subscribe(c->mosq, NULL, pattern, 0);

	client_sync_write(c);
	return rc ? -ENOTCONN : 0;
}

static void fifo_drop_last(struct mqtt_client *c)
{
	c->fifo_len--;
	c->backlog -= c->fifo[(c->fifo_head + c->fifo_len) % c->fifo_cap].bytes;
	backlog_update(c);
}

static int publish_rc(struct mqtt_client *c, int rc)
{
	switch (rc) {
	case MOSQ_ERR_SUCCESS:
		return 0;
	case MOSQ_ERR_NOMEM:
		return -ENOMEM;
	case MOSQ_ERR_PAYLOAD_SIZE:
	case MOSQ_ERR_OVERSIZE_PACKET:
		return -EMSGSIZE;
	case MOSQ_ERR_NO_CONN:
		return -ENOTCONN;
	default:
		handle_rc(c, rc);
		return -ENOTCONN;
	}
}

static int publish(struct mqtt_client *c, const char *topic, const void *payload, size_t len,
	int qos, bool retain)
{
	bool was_congested = c->congested;
	int mid = 0, err;

	if (!c->connected)
		return -ENOTCONN;
	if (len > 256u << 20)
		return -EMSGSIZE;
	/* libmosquitto may write the packet, and call on_publish, before it returns
	 * the mid: the entry waits in the FIFO as MID_UNKNOWN until then. */
	if (qos == 0 && fifo_push(c, MID_UNKNOWN, len + strlen(topic)))
		return -ENOMEM;
	err = publish_rc(
		c, mosquitto_publish(c->mosq, &mid, topic, (int)len, payload, qos, retain));
	if (qos == 0 && c->fifo_len > 0) {
		struct pending *last = &c->fifo[(c->fifo_head + c->fifo_len - 1) % c->fifo_cap];
		if (last->mid == MID_UNKNOWN) {
			if (err)
				fifo_drop_last(c);
			else
				last->mid = mid;
		}
	}
	if (!err)
		client_sync_write(c);
	if (!was_congested && c->congested && c->ops->on_congested)
		c->ops->on_congested(c->arg);
	return err;
}

int mqtt_client_publish(struct mqtt_client *c, const char *topic, const void *payload, size_t len)
{
	return publish(c, topic, payload, len, 0, false);
}

int mqtt_client_publish_retained(
	struct mqtt_client *c, const char *topic, const void *payload, size_t len)
{
	return publish(c, topic, payload, len, 1, true);
}
