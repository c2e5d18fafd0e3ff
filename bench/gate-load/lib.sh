# Shell functions shared by the gate bench scripts (sourced, not run).

# listening_url LOG PID SECONDS: prints the URL that `ward serve` (process
# PID, writing to LOG) listens on, once it says so. Fails, showing the log,
# if the server exits first or SECONDS pass.
listening_url() {
    local log=$1 pid=$2 secs=$3 url i
    for ((i = 0; i < secs * 10; i++)); do
        url=$(sed -n 's/^ward: listening on \(http:[^ ]*\)$/\1/p' "$log")
        if [[ -n "$url" ]]; then
            echo "$url"
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; return 1; }
        sleep 0.1
    done
    echo "the server did not start within $secs s" >&2
    cat "$log" >&2
    return 1
}
