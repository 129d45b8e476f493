"""The agents' library: what the scripts in `agents/` share, one concept per module.

- `flags`: ``Args`` dataclasses to ``--flags`` (tyro) and the flags every experiment shares;
- `runs`: run names and TensorBoard writers;
- `benchmarks`: which corpus and which of its benchmarks a script works on;
- `scores`: the geometric-mean reduction every figure reports;
- `envs`: the monitored environment factory;
- `rollouts`: whole-episode rollouts, on one service or on Ray;
- `policy_io`: saved policies (ONNX + metadata);
- `policy_net`: the policy network and its ONNX export;
- `sb3`: stable-baselines3 training (the PPO scripts);
- `es`: evolution strategies over whole compiles;
- `cloning`: behavioural cloning of a teacher's decisions;
- `labels`: the search's decision labels that behavioural cloning reads;
- `variants`: linked compiles of one program under several policies;
- `timing`: the measured runtime of those compiles (one function, to swap the measurement);
- `results`: an evaluation's results file, written as rows arrive and resumed after a kill.

Each script in `agents/` is an ``Args`` dataclass and a ``main`` over these.
"""
