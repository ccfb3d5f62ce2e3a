/*
 * cmafeng.lineedit: line editing for the REPL through libedit (BSD licence; GNU readline is
 * GPL), and Ctrl-C for an interactive session.
 *
 *   lineedit.isatty(fd) -> bool
 *   lineedit.new{ history = path|nil, history_size = n, complete = fn, idle = fn,
 *                 idle_ms = 100 } -> editor
 *       On a terminal the editor uses libedit (emacs keys, ~/.editrc, history, Ctrl-R reverse
 *       search, Tab calls complete(text_before_cursor) -> insert, listing). Otherwise it reads
 *       plain lines. Either way idle() is called every idle_ms while no input arrives, so the
 *       REPL pumps running jobs while the prompt waits.
 *   editor:read(prompt) -> line | nil, "eof" | nil, "interrupt"
 *   editor:add_history(line)   appends to the history file at once
 *   editor:hide()              clears the edit area before output; it is redrawn after idle()
 *   editor:set_prompt(text)    changes the prompt shown while reading (status line)
 *   editor:close()
 *   lineedit.catch_interrupts(on)       installs (true) or restores (false) the SIGINT handler
 *   lineedit.interruptible(f, handler, ...) -> like xpcall; Ctrl-C raises "interrupted"
 *   lineedit.uninterruptible(f, ...)    -> f's results; a Ctrl-C that arrives meanwhile is
 *       raised as "interrupted" after f returns (inside interruptible) instead of inside f
 *
 * Ctrl-C: the handler never touches the terminal or Lua state beyond one call. While Lua code
 * runs under interruptible() it sets a debug hook (as luajit.c does) that raises "interrupted"
 * at the next instruction; otherwise it sets a flag, and read() returns nil, "interrupt". The
 * REPL compiles its chunks with jit.off so the hook also fires in `while true do end`.
 *
 * Threads: the policy thread only (it owns the lua_State); the callbacks run inside read().
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <histedit.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include "lua/bindings.h"

#define EDITOR_MT "cmafeng.LineEdit"

typedef struct LEdit {
    EditLine *el;  /* NULL in plain mode (stdin is not a terminal) */
    History *hist; /* NULL in plain mode */
    HistEvent hev;
    char *history_path; /* NULL: no history file */
    char prompt[512];
    lua_State *L; /* valid inside read() only: the callbacks call back into Lua */
    int ref_complete, ref_idle;
    int idle_ms;
    double last_idle; /* monotonic ms of the last idle() call */
    int reading;      /* inside read(): hide() has a line to clear */
    int interrupted;  /* Ctrl-C ended the read */
    int hidden;       /* the edit area was cleared; redraw it after the callback */
    int infd;
    /* Plain mode: bytes read but not yet returned as lines. */
    char *buf;
    size_t len, cap;
    int eof;
} LEdit;

/* ---- Ctrl-C ------------------------------------------------------------------------ */

static volatile sig_atomic_t sigint_pending;
/* > 0 while interruptible() runs Lua code: the handler then sets the stop hook. */
static volatile sig_atomic_t eval_depth;
static lua_State *volatile eval_L;
static struct sigaction old_sigint;
static int catching;

static void stop_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    sigint_pending = 0;
    luaL_error(L, "interrupted");
}

static void on_sigint(int sig)
{
    (void)sig;
    if (eval_depth > 0 && eval_L)
        lua_sethook(eval_L, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
    else
        sigint_pending = 1;
}

static int l_catch_interrupts(lua_State *L)
{
    int on = lua_toboolean(L, 1);
    if (on && !catching) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sigemptyset(&sa.sa_mask);
        sa.sa_handler = on_sigint; /* no SA_RESTART: poll() and read() return EINTR */
        sigaction(SIGINT, &sa, &old_sigint);
        catching = 1;
    } else if (!on && catching) {
        sigaction(SIGINT, &old_sigint, NULL);
        catching = 0;
    }
    sigint_pending = 0;
    return 0;
}

/* interruptible(f, handler, ...) -> true, results... | false, handler's result */
static int l_interruptible(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    int n = lua_gettop(L);
    lua_pushvalue(L, 2);
    int hidx = lua_gettop(L);
    lua_pushvalue(L, 1);
    for (int i = 3; i <= n; i++)
        lua_pushvalue(L, i);
    // stack: f, handler, args..., handler, f, args...
    lua_State *prev_L = eval_L;
    eval_L = L;
    sigint_pending = 0;
    eval_depth++;
    int r = lua_pcall(L, n - 2, LUA_MULTRET, hidx);
    eval_depth--;
    eval_L = prev_L;
    /* A signal that arrived as the call returned may have left the hook set. */
    if (lua_gethook(L) == stop_hook)
        lua_sethook(L, NULL, 0, 0);
    lua_pushboolean(L, r == 0);
    lua_replace(L, hidx);
    return lua_gettop(L) - hidx + 1;
}

/* uninterruptible(f, ...) -> f's results; errors propagate. */
static int l_uninterruptible(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    int n = lua_gettop(L);
    sig_atomic_t depth = eval_depth;
    eval_depth = 0;
    int r = lua_pcall(L, n - 1, LUA_MULTRET, 0);
    eval_depth = depth;
    if (r != 0)
        return lua_error(L);
    if (depth > 0 && sigint_pending) {
        sigint_pending = 0;
        return luaL_error(L, "interrupted");
    }
    return lua_gettop(L);
}

/* ---- the editor -------------------------------------------------------------------- */

static LEdit *check_editor(lua_State *L)
{
    LEdit *ed = luaL_checkudata(L, 1, EDITOR_MT);
    if (ed->infd < 0)
        luaL_error(L, "line editor is closed");
    return ed;
}

/* Clears what libedit drew (prompt and line, possibly wrapped over several rows) so that
 * output appears in its place; read() redraws it after the callback. */
static void hide(LEdit *ed)
{
    if (!ed->el || !ed->reading || ed->hidden)
        return;
    const LineInfo *li = el_line(ed->el);
    int cols = 0;
    if (el_get(ed->el, EL_GETTC, "co", &cols) != 0 || cols <= 0)
        cols = 80;
    size_t pos = strlen(ed->prompt) + (size_t)(li->cursor - li->buffer);
    int row = (int)(pos / (size_t)cols);
    fflush(stdout);
    if (row > 0)
        fprintf(stdout, "\033[%dA", row);
    fputs("\r\033[J", stdout);
    fflush(stdout);
    ed->hidden = 1;
}

static void redraw(LEdit *ed)
{
    fflush(stdout);
    fflush(stderr);
    if (ed->hidden) {
        ed->hidden = 0;
        if (ed->el)
            el_set(ed->el, EL_REFRESH);
    }
}

static void run_idle(LEdit *ed)
{
    if (ed->ref_idle == LUA_NOREF)
        return;
    lua_State *L = ed->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, ed->ref_idle);
    if (!cme__lua_pcall(L, 0, 0)) {
        hide(ed);
        fprintf(stderr, "cmafeng: repl: %s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    redraw(ed);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* Waits for input on ed->infd, calling idle() every idle_ms, also while keys keep coming
 * (a fast typist must not starve the jobs). Returns 1 when readable, 0 on Ctrl-C
 * (errno = EINTR), -1 on error. */
static int wait_input(LEdit *ed)
{
    for (;;) {
        if (sigint_pending) {
            sigint_pending = 0;
            errno = EINTR;
            return 0;
        }
        double due = ed->last_idle + ed->idle_ms - now_ms();
        if (due <= 0) {
            run_idle(ed);
            ed->last_idle = now_ms();
            continue;
        }
        struct pollfd p = { .fd = ed->infd, .events = POLLIN };
        int r = poll(&p, 1, (int)due + 1);
        if (r < 0 && errno != EINTR)
            return -1;
        if (r > 0)
            return 1;
    }
}

/* libedit's character source: UTF-8 bytes from the terminal, pumping idle() in between. */
static int getc_fn(EditLine *el, wchar_t *wc)
{
    LEdit *ed = NULL;
    el_get(el, EL_CLIENTDATA, &ed);
    char cbuf[8];
    size_t n = 0;
    for (;;) {
        int w = wait_input(ed);
        if (w == 0) {
            *wc = 0;
            ed->interrupted = 1;
            errno = EINTR;
            return -1;
        }
        if (w < 0)
            return -1;
        ssize_t k = read(ed->infd, cbuf + n, 1);
        if (k < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return -1;
        }
        if (k == 0) {
            *wc = 0;
            return 0;
        }
        n++;
        mbstate_t st;
        memset(&st, 0, sizeof(st));
        size_t m = mbrtowc(wc, cbuf, n, &st);
        if (m == (size_t)-2 && n < sizeof(cbuf))
            continue; /* an incomplete sequence: read its next byte */
        if (m == (size_t)-1 || m == (size_t)-2) {
            n = 0; /* invalid: drop it */
            continue;
        }
        return 1;
    }
}

static char *prompt_fn(EditLine *el)
{
    LEdit *ed = NULL;
    el_get(el, EL_CLIENTDATA, &ed);
    return ed->prompt;
}

/* Tab: complete(text_before_cursor) -> insert, listing. */
static unsigned char complete_fn(EditLine *el, int ch)
{
    (void)ch;
    LEdit *ed = NULL;
    el_get(el, EL_CLIENTDATA, &ed);
    if (ed->ref_complete == LUA_NOREF)
        return CC_ERROR;
    lua_State *L = ed->L;
    const LineInfo *li = el_line(el);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ed->ref_complete);
    lua_pushlstring(L, li->buffer, (size_t)(li->cursor - li->buffer));
    if (!cme__lua_pcall(L, 1, 2)) {
        lua_pop(L, 1);
        return CC_ERROR;
    }
    // stack: insert, listing
    unsigned char ret = CC_REFRESH_BEEP;
    const char *ins = lua_tostring(L, -2);
    if (ins && *ins) {
        el_insertstr(el, ins);
        ret = CC_REFRESH;
    }
    const char *list = lua_tostring(L, -1);
    if (list && *list) {
        fputs("\n", stdout);
        fputs(list, stdout);
        fflush(stdout);
        ret = CC_REDISPLAY;
    }
    lua_pop(L, 2);
    return ret;
}

/* mkdir -p of the directory part of path (the history file's), mode 0700. */
static void make_parent_dirs(const char *path)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
        return;
    char *slash = strrchr(tmp, '/');
    if (!slash || slash == tmp)
        return;
    *slash = '\0';
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(tmp, 0700);
            *p = '/';
        }
    }
    mkdir(tmp, 0700);
}

static int opt_ref(lua_State *L, int t, const char *k)
{
    lua_getfield(L, t, k);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return LUA_NOREF;
    }
    if (!lua_isfunction(L, -1))
        luaL_error(L, "lineedit.new: %s: expected a function, got %s", k, luaL_typename(L, -1));
    return luaL_ref(L, LUA_REGISTRYINDEX);
}

static int l_new(lua_State *L)
{
    if (lua_isnoneornil(L, 1))
        lua_newtable(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    LEdit *ed = lua_newuserdata(L, sizeof(*ed));
    memset(ed, 0, sizeof(*ed));
    ed->infd = -1;
    ed->ref_complete = ed->ref_idle = LUA_NOREF;
    luaL_getmetatable(L, EDITOR_MT);
    lua_setmetatable(L, -2);
    // stack: opts, editor
    ed->infd = STDIN_FILENO;
    ed->ref_complete = opt_ref(L, 1, "complete");
    ed->ref_idle = opt_ref(L, 1, "idle");
    lua_getfield(L, 1, "idle_ms");
    ed->idle_ms = (int)luaL_optinteger(L, -1, 100);
    lua_pop(L, 1);
    if (ed->idle_ms < 1)
        ed->idle_ms = 1;
    if (!isatty(ed->infd))
        return 1; /* plain mode */

    /* libedit converts between wide characters and the locale's multibyte encoding. */
    const char *cur = setlocale(LC_CTYPE, NULL);
    if (!cur || strcmp(cur, "C") == 0 || strcmp(cur, "POSIX") == 0)
        setlocale(LC_CTYPE, "");
    ed->el = el_init("cmafeng", stdin, stdout, stderr);
    if (!ed->el)
        return luaL_error(L, "lineedit.new: libedit could not set up the terminal");
    el_set(ed->el, EL_CLIENTDATA, ed);
    el_set(ed->el, EL_EDITOR, "emacs");
    el_set(ed->el, EL_SIGNAL, 0);
    el_set(ed->el, EL_PROMPT, prompt_fn);
    el_set(ed->el, EL_GETCFN, getc_fn);
    ed->hist = history_init();
    lua_getfield(L, 1, "history_size");
    int size = (int)luaL_optinteger(L, -1, 1000);
    lua_pop(L, 1);
    history(ed->hist, &ed->hev, H_SETSIZE, size);
    history(ed->hist, &ed->hev, H_SETUNIQUE, 1);
    el_set(ed->el, EL_HIST, history, ed->hist);
    el_set(ed->el, EL_ADDFN, "cme-complete", "complete a Lua name", complete_fn);
    el_set(ed->el, EL_BIND, "^I", "cme-complete", NULL);
    el_set(ed->el, EL_BIND, "^R", "em-inc-search-prev", NULL);
    el_source(ed->el, NULL); /* ~/.editrc */
    lua_getfield(L, 1, "history");
    const char *hp = lua_tostring(L, -1);
    if (hp && *hp) {
        ed->history_path = strdup(hp);
        make_parent_dirs(hp);
        history(ed->hist, &ed->hev, H_LOAD, hp); /* a missing file is a fresh history */
    }
    lua_pop(L, 1);
    return 1;
}

/* Plain mode: the next line of ed->infd. 1 = line pushed, 0 = eof, -1 = Ctrl-C, -2 error */
static int plain_read(LEdit *ed, lua_State *L)
{
    for (;;) {
        char *nl = ed->len ? memchr(ed->buf, '\n', ed->len) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - ed->buf);
            lua_pushlstring(L, ed->buf, n);
            memmove(ed->buf, nl + 1, ed->len - n - 1);
            ed->len -= n + 1;
            return 1;
        }
        if (ed->eof) {
            if (ed->len == 0)
                return 0;
            lua_pushlstring(L, ed->buf, ed->len);
            ed->len = 0;
            return 1;
        }
        int w = wait_input(ed);
        if (w == 0)
            return -1;
        if (w < 0)
            return -2;
        if (ed->cap - ed->len < 4096) {
            size_t cap = ed->cap ? ed->cap * 2 : 8192;
            char *b = realloc(ed->buf, cap);
            if (!b)
                return -2;
            ed->buf = b;
            ed->cap = cap;
        }
        ssize_t k = read(ed->infd, ed->buf + ed->len, ed->cap - ed->len);
        if (k < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (k < 0)
            return -2;
        if (k == 0)
            ed->eof = 1;
        ed->len += (size_t)k;
    }
}

static int l_read(lua_State *L)
{
    LEdit *ed = check_editor(L);
    const char *prompt = luaL_optstring(L, 2, "");
    if (ed->reading)
        return luaL_error(L, "line editor: read() is already waiting for input");
    snprintf(ed->prompt, sizeof(ed->prompt), "%s", prompt);
    /* Ctrl-C while waiting for input clears the line, whatever the caller was doing. */
    sig_atomic_t depth = eval_depth;
    eval_depth = 0;
    sigint_pending = 0;
    ed->L = L;
    ed->reading = 1;
    ed->hidden = 0;
    ed->interrupted = 0;
    ed->last_idle = now_ms();
    int status;
    if (!ed->el) {
        if (*prompt) {
            fputs(prompt, stdout);
            fflush(stdout);
        }
        status = plain_read(ed, L);
    } else {
        fflush(stdout);
        int n = 0;
        const char *line = el_gets(ed->el, &n);
        if (line) {
            size_t len = strlen(line);
            if (len && line[len - 1] == '\n')
                len--;
            lua_pushlstring(L, line, len);
            status = 1;
        } else if (ed->interrupted) {
            status = -1;
        } else if (n < 0) {
            status = -2;
        } else {
            status = 0;
        }
    }
    ed->reading = 0;
    ed->L = NULL;
    eval_depth = depth;
    if (status == 1)
        return 1;
    lua_pushnil(L);
    lua_pushstring(L, status == 0 ? "eof" : status == -1 ? "interrupt" : "error");
    return 2;
}

static int l_add_history(lua_State *L)
{
    LEdit *ed = check_editor(L);
    const char *line = luaL_checkstring(L, 2);
    if (!ed->hist || !*line)
        return 0;
    history(ed->hist, &ed->hev, H_ENTER, line);
    if (ed->history_path)
        history(ed->hist, &ed->hev, H_SAVE, ed->history_path);
    return 0;
}

static int l_hide(lua_State *L)
{
    hide(check_editor(L));
    return 0;
}

static int l_set_prompt(lua_State *L)
{
    LEdit *ed = check_editor(L);
    const char *p = luaL_checkstring(L, 2);
    if (strcmp(p, ed->prompt) == 0)
        return 0;
    hide(ed); /* the prompt is redrawn with the line after the callback */
    snprintf(ed->prompt, sizeof(ed->prompt), "%s", p);
    return 0;
}

static int l_interactive(lua_State *L)
{
    LEdit *ed = check_editor(L);
    lua_pushboolean(L, ed->el != NULL);
    return 1;
}

static int l_close(lua_State *L)
{
    LEdit *ed = luaL_checkudata(L, 1, EDITOR_MT);
    if (ed->el)
        el_end(ed->el);
    if (ed->hist)
        history_end(ed->hist);
    ed->el = NULL;
    ed->hist = NULL;
    free(ed->history_path);
    ed->history_path = NULL;
    free(ed->buf);
    ed->buf = NULL;
    ed->len = ed->cap = 0;
    if (ed->ref_complete != LUA_NOREF)
        luaL_unref(L, LUA_REGISTRYINDEX, ed->ref_complete);
    if (ed->ref_idle != LUA_NOREF)
        luaL_unref(L, LUA_REGISTRYINDEX, ed->ref_idle);
    ed->ref_complete = ed->ref_idle = LUA_NOREF;
    ed->infd = -1;
    return 0;
}

static int l_isatty(lua_State *L)
{
    lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)));
    return 1;
}

int luaopen_cmafeng_lineedit(lua_State *L)
{
    static const luaL_Reg methods[] = {
        { "read", l_read },
        { "add_history", l_add_history },
        { "hide", l_hide },
        { "set_prompt", l_set_prompt },
        { "interactive", l_interactive },
        { "close", l_close },
        { NULL, NULL },
    };
    static const luaL_Reg fns[] = {
        { "new", l_new },
        { "isatty", l_isatty },
        { "catch_interrupts", l_catch_interrupts },
        { "interruptible", l_interruptible },
        { "uninterruptible", l_uninterruptible },
        { NULL, NULL },
    };
    if (luaL_newmetatable(L, EDITOR_MT)) {
        lua_newtable(L);
        luaL_register(L, NULL, methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, l_close);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    lua_newtable(L);
    luaL_register(L, NULL, fns);
    return 1;
}
