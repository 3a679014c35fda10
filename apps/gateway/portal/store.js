// A value that components can watch: the live balance, the socket's state, the session's problem.
import { useEffect, useState } from 'preact/hooks';

export class Store {
  constructor(value) {
    this.value = value;
    this.listeners = new Set();
  }
  get() {
    return this.value;
  }
  set(value) {
    this.value = value;
    for (const listener of this.listeners) listener(value);
  }
  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

export function useStore(store) {
  const [value, setValue] = useState(store.get());
  useEffect(() => {
    setValue(store.get());
    return store.subscribe(setValue);
  }, [store]);
  return value;
}
