"""Talking to a board through mpremote: every command has a timeout, every failure is one line.

Each board command runs `mpremote connect PORT ...` as a child process, in a session of
its own (a Ctrl-C at the keyboard reaches this program, which stops mpremote and says
so in one line, instead of two programs printing tracebacks). What can go wrong, each
said in one line with what to do (BoardFailure):

- the board does not answer Ctrl-C: a program started by its main.py is running and
  catching KeyboardInterrupt (mpremote waits for a prompt that never comes);
- the port vanished in the middle (a cable pulled, the board reset into its bootloader);
- no answer within the command's timeout (TIMEOUT=seconds in the environment changes it);
- Ctrl-C at the keyboard (Interrupted);
- the port cannot be opened (another program holds it).

A program on the board that raises is no failure of the link: run() returns mpremote's
exit status and output for the caller to judge.
"""

import os
import signal
import subprocess
import sys
import threading
import time

from board import board_check, boards, serial_ports

PROBE_SECONDS = 15  # Ctrl-C, raw REPL, soft reboot and one line: a second on a board
COPY_BYTES_PER_SECOND = 2000  # mpremote's cp over 115200 baud writes about 3-5 KB/s


class BoardFailure(Exception):
    """The board could not be reached or went away: the message is one line, with the fix."""


class Interrupted(BoardFailure):
    """Ctrl-C at the keyboard."""


def timeout(default):
    """Seconds a command may take: TIMEOUT from the environment, else default."""
    given = os.environ.get("TIMEOUT", "")
    try:
        return float(given) if given else default
    except ValueError:
        raise BoardFailure("TIMEOUT=%s is not a number of seconds" % given) from None


def copy_timeout(size):
    """Seconds to copy size bytes to a board (at least a minute), unless TIMEOUT says."""
    return timeout(60 + size / COPY_BYTES_PER_SECOND)


def no_prompt(port):
    return BoardFailure(
        "the board at %s does not answer Ctrl-C with a prompt: a program its main.py started "
        "is running and catching KeyboardInterrupt (or the board runs no MicroPython); make "
        "that program end on Ctrl-C, or erase the board and flash MicroPython again (make "
        "flash), then retry" % port
    )


def vanished(port, after):
    return BoardFailure(
        "the port %s went away during %s (cable pulled, board reset or powered off): plug "
        "the board back in and run the command again%s" % (port, after[0], after[1])
    )


def timed_out(port, seconds, what):
    return BoardFailure(
        "no answer from the board at %s within %d s (%s): press its RESET button and run the "
        "command again, or give it longer with TIMEOUT=seconds" % (port, seconds, what)
    )


def interrupted(what):
    return Interrupted("interrupted (Ctrl-C) during %s%s" % what)


def port_gone(port):
    device = serial_ports.expand(port)
    return "/" in device and "://" not in device and not os.path.exists(device)


def classify(port, output, what):
    """The BoardFailure an mpremote exit with this output means, or None: the program's own."""
    if port_gone(port):
        return vanished(port, what)
    if "could not enter raw repl" in output:
        return no_prompt(port)
    if "failed to access" in output or "could not exclusively lock port" in output:
        return BoardFailure(
            "could not open %s: another program (a serial monitor, make repl, a second "
            "mpremote) holds it; close that program and retry" % port
        )
    for sign in ("SerialException", "Input/output error", "returned no data", "[Errno 5]"):
        if sign in output:
            return vanished(port, what)
    return None


def check_port(port):
    """Raise a BoardFailure naming what is wrong with the port (serial_ports.problem)."""
    message = serial_ports.problem(port)
    if message:
        raise BoardFailure(message.replace("\n", "; "))


def start(args, env=None, new_session=True):
    """A child process with its output piped (stdin closed), in a session of its own."""
    return subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=new_session,
    )


def communicate(proc, seconds, echo, echo_err=False):
    """Wait for proc (seconds, None: no limit); (stdout, stderr) as text. With echo, its
    stdout reaches ours as it comes (with echo_err its stderr ours too). Raises
    subprocess.TimeoutExpired (proc stopped) and KeyboardInterrupt (proc stopped) like
    subprocess.run."""
    chunks = {proc.stdout: [], proc.stderr: []}

    def pump(pipe):
        while True:
            data = os.read(pipe.fileno(), 65536)
            if not data:
                return
            chunks[pipe].append(data)
            if echo and pipe is proc.stdout:
                sys.stdout.buffer.write(data)
                sys.stdout.flush()
            elif echo_err and pipe is proc.stderr:
                sys.stderr.buffer.write(data)
                sys.stderr.flush()

    readers = [threading.Thread(target=pump, args=(p,), daemon=True) for p in chunks]
    for reader in readers:
        reader.start()
    try:
        proc.wait(timeout=seconds)
    except BaseException:
        stop(proc)
        raise
    for reader in readers:
        reader.join(5)
    out, err = (b"".join(chunks[p]).decode("utf-8", "replace") for p in chunks)
    for pipe in chunks:
        pipe.close()
    return out, err


def run(port, commands, seconds, what=("the command", ""), capture=True):
    """Run `mpremote connect port <commands>`: the CompletedProcess (stdout and stderr as
    text; without capture stdout also reaches the terminal as it comes), or a
    BoardFailure. what: (the command in words, a sentence added after the fix when it
    is cut) for the messages."""
    args = [boards.tool("mpremote"), "connect", port, *commands]
    proc = start(args)
    try:
        out, err = communicate(proc, seconds, echo=not capture)
    except subprocess.TimeoutExpired:
        if port_gone(port):
            raise vanished(port, what) from None
        raise timed_out(port, seconds, what[0]) from None
    except KeyboardInterrupt:
        raise interrupted(what) from None
    done = subprocess.CompletedProcess(args, proc.returncode, out, err)
    if done.returncode:
        failure = classify(port, done.stdout + done.stderr, what)
        if failure:
            raise failure
    return done


def stop(proc):
    """End mpremote (the board itself may go on running what it was given)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def probe(port, seconds=None, soft_reset=True):
    """What the board runs (board_check.parse of its answer to QUERY), after checking the
    port; a board that does not answer Ctrl-C within seconds is a BoardFailure. Without
    soft_reset the board keeps its state (mpremote's resume)."""
    check_port(port)
    seconds = timeout(PROBE_SECONDS) if seconds is None else seconds
    start = time.monotonic()
    commands = ([] if soft_reset else ["resume"]) + ["exec", board_check.QUERY]
    try:
        done = run(port, commands, seconds, ("connecting", ""))
    except BoardFailure as failure:
        if "no answer from" in str(failure) and time.monotonic() - start >= seconds:
            raise no_prompt(port) from None  # mpremote waits forever for the raw REPL
        raise
    if done.returncode:
        raise BoardFailure(
            "the board at %s did not run a one-line query: %s"
            % (port, (done.stdout + done.stderr).strip().splitlines()[-1:])
        )
    try:
        return board_check.parse(done.stdout)
    except (ValueError, SyntaxError):
        raise BoardFailure(
            "the board at %s gave no version: %r" % (port, done.stdout.strip()[-200:])
        ) from None
