"""What the PoolHost provider runs on a pool host: one python3 script (the agent needs python3 there anyway),
sent on stdin with its parameters as a JSON literal, so no user value passes through a shell.

authorized_keys is edited atomically (temp file 0600 beside the real file, fsync, rename over it; a
symlinked file is edited at its target) and the user's lines are kept byte for byte. The holder file in
the agent directory names the cluster that uses the host; another cluster is refused, and delete touches
stix's processes and files only when this cluster holds the host. Any failure exits non-zero with one
line, the original file untouched.
"""

from __future__ import annotations

import json

from stix.agent.node_agent import AGENT_FILE, CONTAINER_FILE, DAEMON_PID_FILE, PIDS_DIR, REMOTE_DIR

HOLDER_FILE = "holder"
"""In the agent directory: {"cluster": name, "key": the cluster's public key} of the cluster that holds the host."""
REFUSED_EXIT = 3
"""The script's exit status when another cluster holds the host."""

_SCRIPT = r'''
import json, os, shutil, signal, subprocess, sys, tempfile
P = json.loads(PARAMS)
HOME = os.path.expanduser("~")
AGENT = os.path.join(HOME, P["remote_dir"])
HOLDER = os.path.join(AGENT, P["holder_file"])
KEY = P["key"].strip().encode()


def fail(message, status=1):
    sys.stdout.write("stix: " + message + "\n")
    sys.exit(status)


def makedir(path):
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        if not os.path.isdir(path):
            raise


def keys_file():
    ssh = os.path.join(HOME, ".ssh")
    makedir(ssh)
    return os.path.realpath(os.path.join(ssh, "authorized_keys"))


def write_atomic(path, data, mode):
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=".stix-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_keys(path):
    try:
        with open(path, "rb") as handle:
            return handle.read(), os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        return None, 0o600


def ours(line):
    return line == KEY or line == KEY + b"\r"


def authorize():
    path = keys_file()
    data, mode = read_keys(path)
    data = data or b""
    if any(ours(line) for line in data.split(b"\n")):
        return
    sep = b"\n" if data and not data.endswith(b"\n") else b""
    write_atomic(path, data + sep + KEY + b"\n", mode)


def revoke():
    path = keys_file()
    data, mode = read_keys(path)
    if data is None:
        return
    lines = data.split(b"\n")
    kept = [line for line in lines if not ours(line)]
    if len(kept) != len(lines):
        write_atomic(path, b"\n".join(kept), mode)


def holder():
    try:
        with open(HOLDER) as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None
    except ValueError:
        return {"cluster": "?", "key": ""}


def held_by_other():
    found = holder()
    return found is not None and found.get("key", "").strip().encode() != KEY, found


def claim():
    other, found = held_by_other()
    if other:
        fail("held by stix cluster %r (from another stix home or machine, or a cluster whose destroy could not "
             "reach this host); if that cluster is gone, remove ~/%s on that host" % (found.get("cluster"), P["remote_dir"]),
             P["refused_exit"])
    makedir(AGENT)
    if found is not None:
        return False
    fd, tmp = tempfile.mkstemp(prefix=".stix-", dir=AGENT)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(json.dumps({"cluster": P["cluster"], "key": P["key"].strip()}).encode())
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, HOLDER)  # atomic and exclusive: of two clusters claiming at once, one wins
        except FileExistsError:
            return claim()
    finally:
        os.unlink(tmp)
    return True


def proc(pid, what):
    with open("/proc/%d/%s" % (pid, what), "rb") as handle:
        return handle.read().split(b"\0")


def pgid_of(pid):
    with open("/proc/%d/stat" % pid, "rb") as handle:
        return int(handle.read().rsplit(b")", 1)[1].split()[2])


def recorded_pid(path):
    try:
        with open(path) as handle:
            return int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def kill_jobs():
    """Each recorded worker process group, but only its members that carry a stix job's environment."""
    pids_dir = os.path.join(AGENT, P["pids_dir"])
    groups = set()
    for name in os.listdir(pids_dir) if os.path.isdir(pids_dir) else ():
        pid = recorded_pid(os.path.join(pids_dir, name))
        if pid:
            groups.add(pid)
    for entry in os.listdir("/proc") if groups else ():
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            if pgid_of(pid) in groups and any(v.startswith(b"STIX_TASK_ID=") for v in proc(pid, "environ")):
                os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            pass


def stop_daemon():
    pid = recorded_pid(os.path.join(AGENT, P["daemon_pid_file"]))
    if not pid:
        return
    agent = os.path.realpath(os.path.join(AGENT, P["agent_file"]))
    try:
        argv = [a.decode(errors="replace") for a in proc(pid, "cmdline")]
        if "daemon" in argv and any(os.path.realpath(a) == agent for a in argv if a.endswith(P["agent_file"])):
            os.kill(pid, signal.SIGTERM)
    except OSError:
        pass


def remove_container():
    """The cluster's container (image_id docker:), which its record names as "<runtime> <name>"; errors ignored."""
    try:
        with open(os.path.join(AGENT, P["container_file"])) as handle:
            runtime, name = handle.read().split()
    except (OSError, ValueError):
        return
    if runtime not in ("docker", "podman"):
        return
    try:
        subprocess.call([runtime, "rm", "-f"] + (["-t", "0"] if runtime == "podman" else []) + [name],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    except (OSError, subprocess.SubprocessError):
        pass


def release():
    other, _ = held_by_other()
    if not other and os.path.isdir(AGENT):
        agent = os.path.join(AGENT, P["agent_file"])
        if os.path.isfile(agent):
            try:  # best effort: what it leaves running is killed below
                subprocess.call([sys.executable, agent, "cancel", "--all"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, timeout=30)
            except subprocess.SubprocessError:
                pass
        kill_jobs()
        stop_daemon()
        remove_container()  # before its record goes with the agent directory
        shutil.rmtree(AGENT, ignore_errors=True)
        if os.path.exists(HOLDER):
            os.unlink(HOLDER)
    revoke()


try:
    if P["action"] == "create":
        claimed = claim()
        try:
            authorize()
        except BaseException:
            if claimed:  # the resource is not created, so no destroy would release the host
                os.unlink(HOLDER)
                try:
                    os.rmdir(AGENT)
                except OSError:
                    pass
            raise
        print(HOME)
    else:
        release()
except (OSError, subprocess.SubprocessError) as exc:
    fail("%s: %s" % (type(exc).__name__, exc))
'''


def script(action: str, cluster: str, key: str) -> bytes:
    """The remote script for `action` ("create": claim the host and authorize the key; "delete": release it)."""
    params = {"action": action, "cluster": cluster, "key": key, "remote_dir": REMOTE_DIR, "holder_file": HOLDER_FILE,
              "pids_dir": PIDS_DIR, "daemon_pid_file": DAEMON_PID_FILE, "agent_file": AGENT_FILE,
              "container_file": CONTAINER_FILE,
              "refused_exit": REFUSED_EXIT}
    return (f"PARAMS = {json.dumps(json.dumps(params))}\n" + _SCRIPT).encode()
