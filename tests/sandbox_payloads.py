"""Hostile cells for the REPL sandbox, one row each: (class, name, expect, code).

Every cell runs after PRELUDE in a fresh sandbox. A cell prints ESCAPED when a step that must be
refused worked; the runner (tests/sandbox_attack.py) also checks effects outside: the vault and
home files, marker files under /tmp, a TCP and an abstract-socket listener, leftover processes
and scratch dirs, and whether the parent lived. `expect` is "" (refused or harmless), "killed"
(the cell must be stopped within its limit), "probe" (the pipe is attacked: the next cell must
still get a true answer or a reported violation, never a wrong one; every row is probed) or "py"
(what it reaches is only the Python-level line's to refuse: with that line off, only its
effects count).
Placeholders: {vault} {home} {pwned} {parent} {port} {abstract} {hostname}.
"""

PRELUDE = """
O = print.__self__.__import__('os')
def L():
    C = [c for c in object.__subclasses__() if c.__name__ == 'CDLL'][0]
    lib = C(None, use_errno=True)
    lib.syscall.restype = C.__init__.__globals__['c_long']
    return lib
def sc(*a):
    return L().syscall(*a)
def hit(*a):
    print('ESCAPED', *a)
def tries(f):
    try:
        return f()
    except BaseException as e:
        return e
def fds():
    stat = print.__self__.__import__('stat')
    return [fd for fd in range(64) if not isinstance(tries(lambda: O.fstat(fd)), BaseException)
            and stat.S_ISFIFO(O.fstat(fd).st_mode)]
def frame(obj):
    s = json.dumps(obj).encode()
    return len(s).to_bytes(4, 'big') + s
def spray(data):
    for fd in fds():
        tries(lambda: O.write(fd, data))
BUILTIN = [c for c in object.__subclasses__() if c.__name__ == 'BuiltinImporter'][0]
"""

SECRET_READS = [  # (name, path): a read that works is an escape
    ("vault page", "{vault}/wiki/secret.md"), ("raw source", "{vault}/raw/paper.md"),
    ("ssh key", "{home}/.ssh/id_rsa"), ("/etc/shadow", "/etc/shadow"), ("/etc/passwd", "/etc/passwd"),
    ("parent environ", "/proc/{parent}/environ"), ("own environ", "/proc/self/environ"),
    ("parent cmdline", "/proc/{parent}/cmdline"), ("mountinfo", "/proc/self/mountinfo"),
    ("kernel memory", "/dev/mem"), ("a disk", "/dev/sda"), ("parent fd", "/proc/{parent}/fd/0"),
]
READERS = [  # (name, code reading `p` and printing ESCAPED on success)
    ("open", "r = tries(lambda: open(p, 'rb').read())\nif isinstance(r, bytes): hit(r[:80])"),
    ("os.open", "fd = tries(lambda: O.open(p, O.O_RDONLY))\nif isinstance(fd, int): hit(O.read(fd, 80))"),
    ("exists", "if tries(lambda: O.path.exists(p)) is True: hit('exists')"),
    ("stat", "r = tries(lambda: O.stat(p))\nif not isinstance(r, BaseException): hit('size', r.st_size)"),
]

ROWS = [(f"8 files", f"{r} {what}", "", f"p = '{path}'\n{code}")
        for what, path in SECRET_READS for r, code in READERS]

ROWS += [
    # -- 3: writes and deletes outside the scratch dir -------------------------------------
    ("3 files", "overwrite index.md", "", "tries(lambda: open('{vault}/index.md', 'w').write('pwned'))"),
    ("3 files", "write into raw/", "", "tries(lambda: open('{vault}/raw/new.md', 'w').write('pwned'))"),
    ("3 files", "delete a wiki page", "", "tries(lambda: O.remove('{vault}/wiki/secret.md'))"),
    ("3 files", "rename a page", "", "tries(lambda: O.rename('{vault}/index.md', '{vault}/gone.md'))"),
    ("3 files", "write in $HOME", "", "tries(lambda: open('{home}/pwned', 'w').write('x'))"),
    ("3 files", "write a /tmp marker", "", "tries(lambda: open('{pwned}-write', 'w').write('x'))"),
    ("3 files", "chmod the vault", "", "tries(lambda: O.chmod('{vault}', 0o777))"),
    ("3 files", "truncate a page", "", "tries(lambda: O.truncate('{vault}/wiki/secret.md', 0))"),
    ("3 files", "symlink out and read", "",
     "tries(lambda: O.symlink('/', 'root_link'))\nr = tries(lambda: open('root_link{vault}/wiki/secret.md').read())\n"
     "if isinstance(r, str): hit(r)"),
    ("3 files", "hard link a page", "", "if tries(lambda: O.link('{vault}/wiki/secret.md', 'l')) is None: hit()"),
    ("3 files", "dot-dot from scratch", "",
     "r = tries(lambda: open('../../../../..{vault}/wiki/secret.md').read())\nif isinstance(r, str): hit(r)"),
    ("3 files", "walk the whole tree", "",
     "seen = [d for d, _, _ in tries(lambda: list(O.walk('/'))) or []]\n"
     "if any(d.startswith(('{vault}', '{home}', '/etc', '/proc')) for d in seen): hit(seen[:5])"),
    ("3 files", "list the root", "",
     "r = O.listdir('/')\nif set(r) & {{'etc', 'home', 'proc', 'tmp', 'work', 'dev', 'sys'}}: hit(r)"),
    ("3 files", "closure cell of the path check", "",
     "try:\n    open('{vault}/wiki/secret.md')\nexcept BaseException as e:\n    tb = e.__traceback__\n"
     "    frames = []\n    while tb:\n        frames.append(tries(lambda: tb.tb_frame))\n        tb = tb.tb_next\n"
     "    for f in frames:\n        if isinstance(f, BaseException): continue\n"
     "        for v in f.f_locals.values():\n"
     "            for c in getattr(v, '__closure__', None) or ():\n"
     "                if isinstance(c.cell_contents, tuple): c.cell_contents = ('/',)\n"
     "                if isinstance(c.cell_contents, str) and c.cell_contents.startswith('/'): c.cell_contents = '/'\n"
     "r = tries(lambda: open('{vault}/wiki/secret.md').read())\nif isinstance(r, str): hit(r)"),
    ("3 files", "read through a module loader", "",
     "L_ = json.__loader__.__class__\nr = tries(lambda: L_('x', '{vault}/wiki/secret.md').get_data('{vault}/wiki/secret.md'))\n"
     "if isinstance(r, bytes): hit(r)"),
    ("3 files", "mknod a block device", "", "if tries(lambda: O.mknod('sda', 0o600 | 0o060000, O.makedev(8, 0))) is None: hit()"),
    ("8 quota", "fill the scratch dir", "",
     "n = 0\nwith open('big', 'wb') as f:\n    for _ in range(400):\n        if isinstance(tries(lambda: f.write(b'x' * (1 << 20))), BaseException): break\n"
     "        n += 1\nO.remove('big')\nif n >= 400: hit(n)"),
    ("8 quota", "many files", "", "n = sum(tries(lambda: open(f'f{{i}}', 'w').close()) is None for i in range(6000))\n"
     "[tries(lambda: O.remove(f'f{{i}}')) for i in range(n)]\nif n >= 6000: hit(n)"),
    ("8 quota", "a fifo that blocks", "killed", "O.mkfifo('q')\nopen('q').read()"),
    # -- 1, 4: processes and signals --------------------------------------------------------
    ("1 exec", "os.system", "", "if tries(lambda: O.system('touch {pwned}-system')) == 0: hit()"),
    ("1 exec", "fork", "", "pid = tries(O.fork)\nif pid == 0: O._exit(0)\nif isinstance(pid, int): hit(pid)"),
    ("1 exec", "execv a shell", "", "tries(lambda: O.execv('/bin/sh', ['sh', '-c', 'touch {pwned}-exec']))"),
    ("1 exec", "posix_spawn", "", "tries(lambda: O.posix_spawn('/bin/touch', ['touch', '{pwned}-spawn'], {{}}))"),
    ("1 exec", "subprocess", "", "import subprocess\nsubprocess.run(['touch', '{pwned}-sub'])"),
    ("1 exec", "posix through BuiltinImporter", "",
     "p = tries(lambda: BUILTIN.load_module('posix'))\nif not isinstance(p, BaseException) and tries(lambda: p.system('touch {pwned}-posix')) == 0: hit()"),
    ("1 exec", "gc rewrites the audit hook", "",
     "gc = tries(lambda: BUILTIN.load_module('gc'))\nfor o in (tries(gc.get_objects) if not isinstance(gc, BaseException) else []) or []:\n"
     "    if type(o) is list and o == [False]: o[0] = True\n"
     "if tries(lambda: O.system('touch {pwned}-gc')) == 0: hit()"),
    ("1 exec", "libc system", "", "if tries(lambda: L().system(b'touch {pwned}-libc')) == 0: hit()"),
    ("1 exec", "execve syscall", "", "tries(lambda: sc(59, b'/bin/sh', None, None))"),
    ("1 exec", "clone syscall", "", "r = tries(lambda: sc(56, 17, 0, 0, 0, 0))\nif r == 0: O._exit(0)\nif isinstance(r, int) and r > 0: hit(r)"),
    ("1 exec", "vfork syscall", "", "r = tries(lambda: sc(58))\nif r == 0: O._exit(0)\nif isinstance(r, int) and r > 0: hit(r)"),
    ("1 exec", "clone3 syscall", "", "r = tries(lambda: sc(435, None, 0))\nif isinstance(r, int) and r > 0: hit(r)"),
    ("1 exec", "memfd + execveat", "",
     "fd = tries(lambda: sc(319, b'x', 0))\nif isinstance(fd, int) and fd >= 0: hit('memfd', fd)\n"
     "tries(lambda: sc(322, 3, b'', None, None, 0x1000))"),
    ("1 exec", "thread", "", "t = tries(lambda: BUILTIN.load_module('_thread'))\n"
     "r = tries(lambda: t.start_new_thread(lambda: None, ()))\nif isinstance(r, int): hit(r)"),
    ("1 exec", "fork bomb", "", "for _ in range(100):\n    if tries(O.fork) == 0: O._exit(0)"),
    ("4 signals", "kill the parent", "", "tries(lambda: O.kill({parent}, 9))"),
    ("4 signals", "kill everything", "", "tries(lambda: O.kill(-1, 9))"),
    ("4 signals", "kill the group", "", "tries(lambda: O.kill(0, 9))"),
    ("4 signals", "killpg own group", "", "tries(lambda: O.killpg(O.getpgrp(), 9))"),
    ("4 signals", "kill the ppid", "", "tries(lambda: O.kill(O.getppid(), 9))"),
    ("4 signals", "libc kill", "", "tries(lambda: L().kill({parent}, 9))"),
    ("4 signals", "kill syscall", "", "tries(lambda: sc(62, {parent}, 9))"),
    ("4 signals", "tgkill syscall", "", "tries(lambda: sc(234, {parent}, {parent}, 9))"),
    ("4 signals", "tkill syscall", "", "tries(lambda: sc(200, {parent}, 9))"),
    ("4 signals", "pidfd signal", "", "fd = tries(lambda: sc(434, {parent}, 0))\ntries(lambda: sc(424, fd, 9, None, 0))\n"
     "if isinstance(fd, int) and fd >= 0: hit(fd)"),
    ("4 signals", "rt_sigqueueinfo", "", "tries(lambda: sc(129, {parent}, 9, b'\\0' * 128))"),
    ("4 signals", "leave the group (setsid)", "", "r = tries(O.setsid)\nif isinstance(r, int): hit(r)"),
    ("4 signals", "leave the group (setpgid)", "", "if tries(lambda: O.setpgid(0, 0)) is None: hit()"),
    ("4 signals", "clear die-with-parent", "", "if tries(lambda: L().prctl(1, 0, 0, 0, 0)) == 0: hit()"),
    ("4 signals", "ptrace the parent", "", "if tries(lambda: sc(101, 16, {parent}, 0, 0)) == 0: hit()"),
    ("4 signals", "process_vm_readv", "", "buf = bytes(64)\nif isinstance(tries(lambda: sc(310, {parent}, buf, 1, buf, 1, 0)), int) and sc(310, {parent}, buf, 1, buf, 1, 0) >= 0: hit()"),
    # -- 2: native code -------------------------------------------------------------------
    ("2 native", "load an extension from the stdlib", "",
     "imp = tries(lambda: BUILTIN.load_module('_imp'))\n"
     "class S: name = '_socket'; origin = [x for x in __import__('sys').path if 'dynload' in x][0] + '/_socket.cpython-311-x86_64-linux-gnu.so'\n"
     "m = tries(lambda: imp.create_dynamic(S))\nif not isinstance(m, BaseException): hit(m)"),
    ("2 native", "copy an extension into scratch and load it", "",
     "imp = tries(lambda: BUILTIN.load_module('_imp'))\nsrc = [x for x in __import__('sys').path if 'dynload' in x][0] + '/_csv.cpython-311-x86_64-linux-gnu.so'\n"
     "open('e.so', 'wb').write(open(src, 'rb').read())\n"
     "class S: name = '_csv'; origin = '/scratch/e.so'\nm = tries(lambda: imp.create_dynamic(S))\nif not isinstance(m, BaseException): hit(m)"),
    ("2 native", "a shell library built for the attack", "",
     "import base64\nopen('evil.so', 'wb').write(base64.b64decode(EVIL_SO))\n"
     "imp = tries(lambda: BUILTIN.load_module('_imp'))\nclass S: name = 'evil'; origin = O.path.abspath('evil.so')\n"
     "tries(lambda: imp.create_dynamic(S))\nif isinstance(tries(lambda: L().dlopen), BaseException): pass\n"
     "D = [c for c in object.__subclasses__() if c.__name__ == 'CDLL']\nif D: tries(lambda: D[0](O.path.abspath('evil.so')))"),
    ("2 native", "anonymous executable memory", "",
     "r = tries(lambda: sc(9, 0, 4096, 7, 0x22, -1, 0))\nif isinstance(r, int) and r != -1: hit(hex(r))"),
    ("2 native", "mprotect to executable", "",
     "r = tries(lambda: sc(9, 0, 4096, 3, 0x22, -1, 0))\n"
     "if isinstance(r, int) and r != -1 and sc(10, r, 4096, 7) == 0: hit()"),
    ("2 native", "pkey_mprotect", "", "r = tries(lambda: sc(9, 0, 4096, 3, 0x22, -1, 0))\n"
     "if isinstance(r, int) and r != -1 and sc(329, r, 4096, 7, -1) == 0: hit()"),
    ("2 native", "map a library file executable", "",
     "src = [x for x in __import__('sys').path if 'dynload' in x][0] + '/_csv.cpython-311-x86_64-linux-gnu.so'\n"
     "fd = O.open(src, O.O_RDONLY)\nr = tries(lambda: sc(9, 0, 4096, 5, 2, fd, 0))\nif isinstance(r, int) and r != -1: hit(hex(r))"),
    ("2 native", "crash the interpreter", "", "tries(lambda: L().memset(0, 0, 64))\nprint('survived')"),
    ("2 native", "bad bytecode", "", "f = lambda: 0\nc = tries(lambda: f.__code__.replace(co_code=b'\\xff' * 8))\ntries(lambda: exec(c))"),
    # -- kernel interfaces ------------------------------------------------------------------
    ("k kernel", "unshare a user namespace", "", "if tries(lambda: L().unshare(0x10000000)) == 0: hit()"),
    ("k kernel", "setns", "", "if tries(lambda: sc(308, 0, 0)) == 0: hit()"),
    ("k kernel", "mount a tmpfs", "", "if tries(lambda: L().mount(b'x', b'/scratch', b'tmpfs', 0, None)) == 0: hit()"),
    ("k kernel", "unmount the root", "", "if tries(lambda: L().umount2(b'/', 2)) == 0: hit()"),
    ("k kernel", "chroot", "", "if tries(lambda: L().chroot(b'/scratch')) == 0: hit()"),
    ("k kernel", "pivot_root", "", "if tries(lambda: sc(155, b'/scratch', b'/scratch')) == 0: hit()"),
    ("k kernel", "bpf", "", "r = tries(lambda: sc(321, 0, bytes(64), 64))\nif isinstance(r, int) and r >= 0: hit(r)"),
    ("k kernel", "perf_event_open", "", "r = tries(lambda: sc(298, bytes(128), 0, -1, -1, 0))\nif isinstance(r, int) and r >= 0: hit(r)"),
    ("k kernel", "personality", "", "tries(lambda: sc(135, 0x0400000))\nif tries(lambda: sc(135, 0xffffffff)) == 0x0400000: hit()"),
    ("k kernel", "keyctl", "", "r = tries(lambda: sc(250, 0, -3, 0))\nif isinstance(r, int) and r >= 0: hit(r)"),
    ("k kernel", "add_key", "", "r = tries(lambda: sc(248, b'user', b'k', b'v', 1, -3))\nif isinstance(r, int) and r >= 0: hit(r)"),
    ("k kernel", "io_uring", "", "r = tries(lambda: sc(425, 4, bytes(120)))\nif isinstance(r, int) and r >= 0: hit(r)"),
    ("k kernel", "userfaultfd", "", "r = tries(lambda: sc(323, 0))\nif isinstance(r, int) and r >= 0: hit(r)"),
    ("k kernel", "open_by_handle_at", "", "r = tries(lambda: sc(304, -100, bytes(16), 0))\nif isinstance(r, int) and r >= 0: hit(r)"),
    ("k kernel", "sethostname", "", "if tries(lambda: L().sethostname(b'pwned', 5)) == 0: hit()"),
    ("k kernel", "x32 syscall numbers", "", "r = tries(lambda: sc(0x40000000 + 39))\nif isinstance(r, int) and r >= 0: hit(r)"),
    ("k kernel", "raise rlimits", "", "import resource\nresource.setrlimit(resource.RLIMIT_AS, (-1, -1))"),
    # -- network ----------------------------------------------------------------------------
    ("n network", "socket module", "", "import socket\nsocket.create_connection(('127.0.0.1', {port}))"),
    ("n network", "_socket through the real import", "", "s = tries(lambda: print.__self__.__import__('_socket').socket())\n"
     "if not isinstance(s, BaseException): hit(s)"),
    ("n network", "inet socket syscall", "", "r = tries(lambda: sc(41, 2, 1, 0))\nif isinstance(r, int) and r >= 0: hit(r)"),
    ("n network", "inet6 socket syscall", "", "r = tries(lambda: sc(41, 10, 1, 0))\nif isinstance(r, int) and r >= 0: hit(r)"),
    ("n network", "netlink socket", "", "r = tries(lambda: sc(41, 16, 3, 0))\nif isinstance(r, int) and r >= 0: hit(r)"),
    ("n network", "packet socket", "", "r = tries(lambda: sc(41, 17, 3, 0))\nif isinstance(r, int) and r >= 0: hit(r)"),
    ("n network", "abstract unix socket of the host", "",
     "s = tries(lambda: sc(41, 1, 1, 0))\nname = b'\\0' + '{abstract}'.encode()\n"
     "addr = (1).to_bytes(2, 'little') + name\n"
     "if isinstance(s, int) and s >= 0 and tries(lambda: sc(42, s, addr, len(addr))) == 0: hit()"),
    ("n network", "network interfaces", "", "r = tries(lambda: O.listdir('/sys/class/net'))\nif isinstance(r, list): hit(r)"),
    # -- 5: frames and interpreter internals ------------------------------------------------
    ("5 frames", "sys._getframe to main", "py",
     "f = tries(lambda: __import__('sys')._getframe(0))\nif not isinstance(f, BaseException):\n"
     "    while f.f_back: f = f.f_back\n    hit(sorted(f.f_locals)[:5])"),
    ("5 frames", "traceback frames to main's open", "probe",
     "try:\n    1 / 0\nexcept ZeroDivisionError as e:\n    f = tries(lambda: e.__traceback__.tb_frame)\n"
     "if not isinstance(f, BaseException):\n    while f.f_back: f = f.f_back\n"
     "    chan = f.f_locals.get('chan')\n    if chan: chan.send({{'op': 'done', 'id': 0, 'output': 'forged', 'error': None, 'final': None}})"),
    ("5 frames", "generator frame", "py", "g = (x for x in [1])\nf = tries(lambda: g.gi_frame)\nif not isinstance(f, BaseException) and f.f_back: hit()"),
    ("5 frames", "gc finds the channel", "probe",
     "gc = tries(lambda: BUILTIN.load_module('gc'))\nobjs = tries(gc.get_objects) if not isinstance(gc, BaseException) else []\n"
     "for o in objs if isinstance(objs, list) else []:\n    if type(o).__name__ == 'Channel': o.send({{'op': 'done', 'id': 1, 'output': 'x', 'error': None, 'final': None}})"),
    ("5 frames", "inspect", "py", "import inspect\nhit(inspect.stack())"),
    ("5 frames", "real open from the builtins module", "",
     "r = tries(lambda: print.__self__.open('{vault}/wiki/secret.md').read())\nif isinstance(r, str): hit(r)"),
    ("5 frames", "sys.modules leftovers", "",
     "m = __import__('sys').modules if not isinstance(tries(lambda: __import__('sys')), BaseException) else {{}}\n"
     "w = m.get('sandbox_walls')\nif w and tries(lambda: w.libc().system(b'touch {pwned}-walls')) == 0: hit()"),
    ("5 frames", "rebind FINAL's globals", "", "FINAL.__globals__['open'] = None\nprint('ok')"),
    ("5 frames", "environment", "", "if 'hunter2' in str(O.environ): hit()"),
    ("5 frames", "hostname", "", "if O.uname().nodename == '{hostname}': hit()"),
    ("5 frames", "uid 0 in the world", "", "if O.getuid() == 0 and O.geteuid() == 0: hit('root')"),
    # -- 7: the pipe --------------------------------------------------------------------------
    ("7 pipe", "forged done, every id", "probe",
     "spray(b''.join(frame({{'op': 'done', 'id': i, 'output': 'forged', 'error': None, 'final': {{'kind': 'text', 'value': 'forged'}}}}) for i in range(40)))"),
    ("7 pipe", "a non-object message", "probe", "spray(frame([1, 2, 3]))"),
    ("7 pipe", "deep nesting", "probe", "spray(frame(0)[:0] + (lambda s: len(s).to_bytes(4, 'big') + s)(b'[' * 200000 + b']' * 200000))"),
    ("7 pipe", "wrong field type", "probe", "spray(frame({{'op': 'done', 'id': 2, 'output': 5, 'error': None, 'final': None}}))"),
    ("7 pipe", "extra field", "probe", "spray(frame({{'op': 'ok', 'id': 2, 'evil': 1}}))"),
    ("7 pipe", "unknown op", "probe", "spray(frame({{'op': 'shell', 'cmd': 'id'}}))"),
    ("7 pipe", "a 4 GB frame header", "probe", "spray(b'\\xff\\xff\\xff\\xff')"),
    ("7 pipe", "a frame that never ends", "killed", "spray((1 << 20).to_bytes(4, 'big') + b'x' * 1000)\nimport time\ntime.sleep(100)"),
    ("7 pipe", "newline-free flood", "probe", "spray(b'x' * (4 << 20))"),
    ("7 pipe", "invalid utf-8", "probe", "spray(b'\\x00\\x00\\x00\\x02\\xff\\xfe')"),
    ("7 pipe", "a bad final", "probe", "spray(frame({{'op': 'done', 'id': 2, 'output': '', 'error': None, 'final': {{'kind': 'shell'}}}}))"),
    ("7 pipe", "call with bad kwargs", "probe", "spray(frame({{'op': 'call', 'id': 2, 'fn': 'search', 'args': 'x', 'kwargs': []}}))"),
    ("7 pipe", "call an unknown function", "", "spray(frame({{'op': 'call', 'id': 0, 'fn': 'os.system', 'args': ['id'], 'kwargs': {{}}}}))"),
    ("7 pipe", "close the pipe", "probe", "for fd in fds(): tries(lambda: O.close(fd))"),
    ("7 pipe", "drip a big frame", "killed", "import time\nfor fd in fds(): tries(lambda: O.write(fd, (8 << 20).to_bytes(4, 'big')))\n"
     "while True:\n    spray(b'x')"),
    ("7 pipe", "huge bridged arguments", "", "tries(lambda: search('x' * (10 << 20)))"),
    # -- 6: limits ----------------------------------------------------------------------------
    ("6 limits", "bridged calls in a loop", "killed", "while True:\n    search('a')"),
    ("6 limits", "FINAL_VAR of a never-ending __str__", "killed",
     "class X:\n    def __str__(self):\n        while True: pass\nx = X()\nFINAL_VAR('x')"),
    ("6 limits", "FINAL of a never-ending __str__", "killed",
     "class X:\n    def __str__(self):\n        while True: pass\nFINAL(X())"),
    ("6 limits", "a huge FINAL_VAR", "", "x = 'a' * (50 << 20)\nFINAL_VAR('x')"),
    ("6 limits", "infinite loop", "killed", "while True:\n    pass"),
    ("6 limits", "sleep", "killed", "import time\ntime.sleep(100)"),
    ("6 limits", "memory bomb", "", "x = []\nwhile True:\n    x.append(' ' * 10**7)"),
    ("6 limits", "10 MB of output", "", "print('A' * 10_000_000)"),
    ("6 limits", "deep recursion", "", "def f(n): return f(n + 1)\nf(0)"),
    ("6 limits", "a huge int to str", "killed", "x = 10 ** 10 ** 7\nprint(len(str(x)))"),
    ("6 limits", "catastrophic regex", "killed", "re.match('(a+)+$', 'a' * 40 + 'b')"),
    ("6 limits", "a __repr__ that never ends, passed to a bridge", "killed",
     "class X:\n    def __repr__(self):\n        while True: pass\nsearch(X())"),
]
