package dev.nsa4j.fa2.contract;

import java.util.ArrayList;
import java.util.List;

/** Collects violations; allocates only when the first one arrives, so a passing check allocates nothing here. */
final class Sink {
    private List<Fa2Violation> list;

    void add(Fa2Rule rule, String tensor, String detail) {
        if (list == null) {
            list = new ArrayList<>(4);
        }
        list.add(new Fa2Violation(rule, tensor, detail));
    }

    boolean has(Fa2Rule rule) {
        if (list != null) {
            for (Fa2Violation v : list) {
                if (v.rule() == rule) {
                    return true;
                }
            }
        }
        return false;
    }

    List<Fa2Violation> list() {
        return list == null ? List.of() : list;
    }
}
