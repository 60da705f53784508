"""CallbackList: hooks called in order, only on callbacks that define them; states keyed by
class name and numbered from the second of a class on."""

from deepnets.train.callbacks import Callback, CallbackList, EarlyStopping


class Counter(Callback):
    def __init__(self, k):
        self.k = k

    def state_dict(self):
        return {"k": self.k}

    def load_state_dict(self, state):
        self.k = state["k"]


def test_states_are_keyed_by_class_and_number():
    cbs = CallbackList([Counter(1), EarlyStopping("loss"), Counter(2), Callback()])
    cbs.callbacks[1].on_train_begin()
    state = cbs.state_dict()
    assert list(state) == ["Counter", "EarlyStopping", "Counter.2"]
    fresh = CallbackList([Counter(0), EarlyStopping("loss"), Counter(0), Callback()])
    fresh.load_state_dict(state)
    assert [fresh.callbacks[0].k, fresh.callbacks[2].k] == [1, 2]


def test_only_overridden_hooks_are_called():
    calls = []

    class A(Callback):
        def on_epoch_end(self, epoch, logs=None):
            calls.append(("A", epoch))

    cbs = CallbackList([A(), Callback(), A()])
    assert cbs.active("on_batch_end") is None and len(cbs.on_epoch_end.fns) == 2
    cbs.on_epoch_end(3, {})
    assert calls == [("A", 3), ("A", 3)]


def test_a_hook_one_callback_overrides_is_its_own_method():
    """The per-batch hooks cost one call where one callback has them: ``active`` gives that
    callback's method itself; with two, a caller that calls both in order."""
    calls = []

    class B(Callback):
        def __init__(self, name):
            self.name = name

        def on_batch_end(self, batch, logs=None):
            calls.append((self.name, batch))

    one = B("x")
    cbs = CallbackList([Callback(), one])
    assert cbs.active("on_batch_end") == one.on_batch_end
    two = CallbackList([B("p"), Callback(), B("q")])
    two.active("on_batch_end")(4, {})
    assert calls == [("p", 4), ("q", 4)]
